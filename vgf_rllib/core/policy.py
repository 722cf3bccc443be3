"""VGF's implicit policy: flow samples moved by the value gradient flow.

These compositions serve both the critic target (next-state particles; docs/algorithm.md,
"Critic target", step 1) and acting ("Acting and the test-time budget"), so training and
inference share one code path. The transport itself: docs/algorithm.md, "Transport"; its
direction comes from a :class:`~vgf_rllib.core.directions.TransportField` (VGF's kernel direction
unless another is given; "Variants"); the per-state budget ``adaptive``: "Adaptive test-time budget".
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vgf_rllib.core.adaptive import adaptive_transport
from vgf_rllib.core.directions import KERNEL_FIELD, TransportField
from vgf_rllib.core.flow import sample_flow
from vgf_rllib.core.networks import TwinCritic, VelocityField
from vgf_rllib.core.selection import select_action
from vgf_rllib.core.transport import TransportSettings, aggregate_twins, move_particles


def per_particle(obs: torch.Tensor, num_particles: int) -> torch.Tensor:
    """Repeat ``(B, obs_dim)`` states to ``(B, N, obs_dim)`` (a view, no copy)."""
    return obs.unsqueeze(1).expand(obs.shape[0], num_particles, obs.shape[-1])


@dataclass(frozen=True)
class ParticlePolicySettings:
    """How actions are proposed: N flow samples with K Euler steps, then transport.

    ``adaptive`` (acting only): each state stops as soon as a step does not pay, and
    ``transport.steps`` is the most steps any state takes (docs/algorithm.md, "Adaptive
    test-time budget").
    """

    num_particles: int
    euler_steps: int
    transport: TransportSettings
    adaptive: bool = False

    def __post_init__(self) -> None:
        if self.num_particles < 1:
            raise ValueError(f"num_particles must be >= 1, got {self.num_particles}")
        if self.euler_steps < 1:
            raise ValueError(f"sampler euler_steps must be >= 1, got {self.euler_steps}")


def acting_draws(
    generator: torch.Generator, states: int, num_particles: int, action_dim: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The acting path's random draws for ``states`` states from ``generator`` (CPU): the
    sampler's noise ``(states, N, action_dim)``, then the selection's U[0, 1) ``(states,)``.

    Drawn per request (serving) or per episode (evaluation), they make actions independent of
    what else is in the batch (docs/algorithm.md, "Acting and the test-time budget").
    """
    noise = torch.randn((states, num_particles, action_dim), generator=generator)
    return noise, torch.rand((states,), generator=generator)


def propose_particles(
    velocity: VelocityField,
    critic: TwinCritic,
    obs: torch.Tensor,
    settings: ParticlePolicySettings,
    field: TransportField = KERNEL_FIELD,
    *,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """N reference samples at each state, moved ``transport.steps`` steps along ``field``'s
    direction for ``critic`` (VGF: grad_a Qbar by the kernel rule).

    ``noise`` ``(B, N, d)`` is the sampler's initial Gaussian draw (fresh when None).
    Returns detached particles ``(B, N, d)``.
    """
    particles = sample_flow(
        velocity, obs, settings.num_particles, settings.euler_steps, noise=noise
    )
    if settings.transport.steps == 0:
        return particles
    obs_n = per_particle(obs, settings.num_particles)
    return move_particles(field.direction(critic, obs_n, settings.transport), particles, settings.transport)


def act_with_steps(
    velocity: VelocityField,
    critic: TwinCritic,
    obs: torch.Tensor,
    settings: ParticlePolicySettings,
    *,
    score_twin_agg: str,
    selection: str = "argmax",
    temperature: float = 1.0,
    field: TransportField = KERNEL_FIELD,
    noise: torch.Tensor | None = None,
    uniform: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Transported particles scored by the online critic, one chosen per state, and the
    transport steps each state took ``(B,)`` (all ``transport.steps`` unless ``adaptive``).

    All randomness can be passed in: ``noise`` ``(B, N, d)``, the sampler's initial Gaussian
    draw, and ``uniform`` ``(B,)``, the U[0, 1) draw of softmax/random selection; each is drawn
    fresh when None. See docs/algorithm.md, "Acting and the test-time budget" and "Exporting the
    acting path".
    """
    if not settings.adaptive:
        particles = propose_particles(velocity, critic, obs, settings, field, noise=noise)
        steps = torch.full((obs.shape[0],), settings.transport.steps, device=obs.device)
    else:
        particles = sample_flow(
            velocity, obs, settings.num_particles, settings.euler_steps, noise=noise
        )
        obs_n = per_particle(obs, settings.num_particles)
        particles, steps = adaptive_transport(
            field.direction(critic, obs_n, settings.transport),
            lambda actions: critic(obs_n, actions),
            particles,
            settings.transport,
            score_twin_agg,
        )
    with torch.no_grad():
        scores = aggregate_twins(critic(per_particle(obs, particles.shape[1]), particles), score_twin_agg)
    return select_action(particles, scores, selection, temperature=temperature, uniform=uniform), steps
