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
) -> torch.Tensor:
    """Pick one particle per state: ``(B, N, d)`` particles, ``(B, N)`` scores -> ``(B, d)``.

    ``argmax``: the best-scoring particle; ``softmax``: sample with probabilities
    softmax(score / temperature); ``random``: uniform over particles.
    """
    if method == "argmax":
        index = scores.argmax(-1)
    elif method == "softmax":
        if temperature <= 0:
            raise ValueError(f"softmax selection needs temperature > 0, got {temperature}")
        probs = torch.softmax(scores / temperature, dim=-1)
        index = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
    elif method == "random":
        index = torch.randint(
            scores.shape[-1], scores.shape[:-1], device=scores.device, generator=generator
        )
    else:
        raise ValueError(f"action selection must be one of {ACTION_SELECTIONS}, got {method!r}")
    return particles[torch.arange(particles.shape[0], device=particles.device), index]
