"""VGF's implicit policy: flow samples moved by the value gradient flow.

These compositions serve both the critic target (next-state particles; docs/algorithm.md,
"Critic target", step 1) and acting ("Acting and the test-time budget"), so training and
inference share one code path. The transport itself: docs/algorithm.md, "Transport".
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vgf_rllib.core.flow import sample_flow
from vgf_rllib.core.networks import TwinCritic, VelocityField
from vgf_rllib.core.selection import select_action
from vgf_rllib.core.transport import TransportSettings, aggregate_twins, transport


def per_particle(obs: torch.Tensor, num_particles: int) -> torch.Tensor:
    """Repeat ``(B, obs_dim)`` states to ``(B, N, obs_dim)`` (a view, no copy)."""
    return obs.unsqueeze(1).expand(obs.shape[0], num_particles, obs.shape[-1])


@dataclass(frozen=True)
class ParticlePolicySettings:
    """How actions are proposed: N flow samples with K Euler steps, then transport."""

    num_particles: int
    euler_steps: int
    transport: TransportSettings

    def __post_init__(self) -> None:
        if self.num_particles < 1:
            raise ValueError(f"num_particles must be >= 1, got {self.num_particles}")
        if self.euler_steps < 1:
            raise ValueError(f"sampler euler_steps must be >= 1, got {self.euler_steps}")


def propose_particles(
    velocity: VelocityField,
    critic: TwinCritic,
    obs: torch.Tensor,
    settings: ParticlePolicySettings,
    *,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """N reference samples at each state, transported along grad_a Qbar of ``critic``.

    ``noise`` ``(B, N, d)`` is the sampler's initial Gaussian draw (fresh when None).
    Returns detached particles ``(B, N, d)``.
    """
    particles = sample_flow(
        velocity, obs, settings.num_particles, settings.euler_steps, noise=noise
    )
    if settings.transport.steps == 0:
        return particles
    obs_n = per_particle(obs, settings.num_particles)
    return transport(lambda actions: critic(obs_n, actions), particles, settings.transport)


def act(
    velocity: VelocityField,
    critic: TwinCritic,
    obs: torch.Tensor,
    settings: ParticlePolicySettings,
    *,
    score_twin_agg: str,
    selection: str = "argmax",
    temperature: float = 1.0,
    noise: torch.Tensor | None = None,
    uniform: torch.Tensor | None = None,
) -> torch.Tensor:
    """Transported particles scored by the online critic, one chosen per state.

    All randomness can be passed in: ``noise`` ``(B, N, d)``, the sampler's initial Gaussian
    draw, and ``uniform`` ``(B,)``, the U[0, 1) draw of softmax/random selection; each is drawn
    fresh when None. See docs/algorithm.md, "Acting and the test-time budget" and "Exporting the
    acting path".
    """
    particles = propose_particles(velocity, critic, obs, settings, noise=noise)
    with torch.no_grad():
        scores = aggregate_twins(critic(per_particle(obs, particles.shape[1]), particles), score_twin_agg)
    return select_action(particles, scores, selection, temperature=temperature, uniform=uniform)
