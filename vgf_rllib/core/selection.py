"""Choosing one action among the transported particles.

See docs/algorithm.md, "Acting and the test-time budget".
"""

from __future__ import annotations

import torch

ACTION_SELECTIONS = ("argmax", "softmax", "random")


def select_action(
    particles: torch.Tensor,
    scores: torch.Tensor,
    method: str = "argmax",
    *,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    uniform: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pick one particle per state: ``(B, N, d)`` particles, ``(B, N)`` scores -> ``(B, d)``.

    ``argmax``: the best-scoring particle; ``softmax``: sample with probabilities
    softmax(score / temperature); ``random``: uniform over particles. The two random methods
    invert the cumulative distribution at one U[0, 1) draw per state, ``uniform`` of shape
    ``(B,)`` (drawn from ``generator`` when not given), so that the same draws give the same
    picks wherever this runs (docs/algorithm.md, "Exporting the acting path").
    """
    if method not in ACTION_SELECTIONS:
        raise ValueError(f"action selection must be one of {ACTION_SELECTIONS}, got {method!r}")
    if method == "argmax":
        index = scores.argmax(-1)
    else:
        if method == "softmax":
            if temperature <= 0:
                raise ValueError(f"softmax selection needs temperature > 0, got {temperature}")
            probs = torch.softmax(scores / temperature, dim=-1)
        else:
            probs = torch.full_like(scores, 1.0 / scores.shape[-1])
        if uniform is None:
            uniform = torch.rand(
                scores.shape[:-1], device=scores.device, dtype=scores.dtype, generator=generator
            )
        cdf = probs.cumsum(-1)
        # first particle whose cumulative probability exceeds u; the clamp guards rounding at 1
        index = torch.searchsorted(cdf, uniform.unsqueeze(-1), right=True).squeeze(-1)
        index = index.clamp(max=scores.shape[-1] - 1)
    return particles[torch.arange(particles.shape[0], device=particles.device), index]
