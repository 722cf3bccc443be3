"""Critic target and losses of one VGF gradient step (docs/algorithm.md, "Critic target")."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vgf_rllib.core.directions import KERNEL_FIELD, TransportField
from vgf_rllib.core.flow import flow_matching_loss
from vgf_rllib.core.networks import TwinCritic, VelocityField
from vgf_rllib.core.policy import ParticlePolicySettings, per_particle, propose_particles
from vgf_rllib.core.transport import aggregate_twins, reduce_last_dim

PARTICLE_AGGREGATIONS = ("mean", "max")


def aggregate_particles(values: torch.Tensor, how: str) -> torch.Tensor:
    """Reduce per-particle values ``(B, N)`` to ``(B,)`` by ``mean`` or ``max``.

    See docs/algorithm.md, "Critic target", step 3.
    """
    return reduce_last_dim(values, how, PARTICLE_AGGREGATIONS, "particle aggregation")


def td_target(
    rewards: torch.Tensor,
    masks: torch.Tensor,
    next_target_q: torch.Tensor,
    *,
    gamma: float,
    target_twin_agg: str,
    particle_agg: str,
) -> torch.Tensor:
    """y = r + gamma * mask * agg_particles(agg_twins(Q_target(s', a'_i))).

    ``next_target_q`` holds the target twins at the transported next-state particles,
    shape ``(B, N, 2)``. The result carries no gradient (docs/algorithm.md, "Critic target",
    steps 2-4).
    """
    next_value = aggregate_particles(aggregate_twins(next_target_q, target_twin_agg), particle_agg)
    return (rewards + gamma * masks * next_value).detach()


def twin_critic_loss(q_values: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean[(y - Q1(s,a))^2 + (y - Q2(s,a))^2] for ``q_values`` of shape ``(B, 2)``.

    See docs/algorithm.md, "Critic target", step 5.
    """
    return (q_values - target.unsqueeze(-1)).pow(2).sum(-1).mean()


@dataclass(frozen=True)
class LossDraws:
    """The random draws of one gradient step, drawn before the losses are computed so that a
    compiled step (docs/algorithm.md, "Compiled update step") and the eager one consume the
    same random stream: the sampler's Gaussian noise at s' ``(B, N, d)``, then the flow-matching
    noise ``(B, d)`` and times ``(B,)`` at the dataset actions."""

    next_noise: torch.Tensor
    flow_noise: torch.Tensor
    flow_times: torch.Tensor

    @classmethod
    def sample(cls, batch_size: int, num_particles: int, action_dim: int, device: torch.device) -> LossDraws:
        return cls(
            torch.randn(batch_size, num_particles, action_dim, device=device),
            torch.randn(batch_size, action_dim, device=device),
            torch.rand(batch_size, device=device),
        )


def vgf_losses(
    velocity: VelocityField,
    critic: TwinCritic,
    target_critic: TwinCritic,
    batch: dict[str, torch.Tensor],
    settings: ParticlePolicySettings,
    field: TransportField = KERNEL_FIELD,
    *,
    gamma: float,
    target_twin_agg: str,
    particle_agg: str,
    draws: LossDraws | None = None,
) -> dict[str, torch.Tensor]:
    """The losses of one gradient step (docs/algorithm.md, "Critic target"): TD, BC flow and
    the transport field's own (A-VGF: ``field_loss``; "Variants").

    ``batch`` holds ``observations, actions, rewards, next_observations, masks``. Next-state
    particles are flow samples at s' moved by L_train transport steps along ``field``'s direction
    for the ONLINE critics (VGF: their gradient); their values come from the TARGET critics.
    ``draws``: the step's random draws (fresh when None).
    """
    next_obs = batch["next_observations"]
    actions = batch["actions"]
    if draws is None:
        draws = LossDraws.sample(actions.shape[0], settings.num_particles, actions.shape[-1], actions.device)
    next_particles = propose_particles(velocity, critic, next_obs, settings, field, noise=draws.next_noise)
    with torch.no_grad():
        next_target_q = target_critic(per_particle(next_obs, settings.num_particles), next_particles)
    target = td_target(
        batch["rewards"],
        batch["masks"],
        next_target_q,
        gamma=gamma,
        target_twin_agg=target_twin_agg,
        particle_agg=particle_agg,
    )
    q_values = critic(batch["observations"], batch["actions"])
    return {
        "critic_loss": twin_critic_loss(q_values, target),
        "flow_loss": flow_matching_loss(
            velocity, batch["observations"], actions, noise=draws.flow_noise, times=draws.flow_times
        ),
        **field.losses(critic, batch["observations"], batch["actions"]),
        "q_mean": q_values.detach().mean(),
        "target_mean": target.mean(),
    }
