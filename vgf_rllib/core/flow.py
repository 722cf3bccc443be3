"""Behavior flow matching: the reference sampler mu(a|s).

See docs/algorithm.md, "Reference sampler".
"""

from __future__ import annotations

import torch

from vgf_rllib.core.networks import VelocityField


def flow_matching_loss(
    velocity: VelocityField,
    obs: torch.Tensor,
    actions: torch.Tensor,
    *,
    noise: torch.Tensor | None = None,
    times: torch.Tensor | None = None,
) -> torch.Tensor:
    """Conditional flow-matching loss mean ||v(s, x_t, t) - (x1 - x0)||^2.

    x0 ~ N(0, I) (``noise``), x1 = dataset action, t ~ U[0, 1] (``times``), and
    x_t = (1 - t) x0 + t x1. The squared error is averaged over rows AND action dims, as in the
    authors' code (a sum over dims would scale the loss, and the sampler's Adam steps' noise, by d).
    """
    x0 = torch.randn_like(actions) if noise is None else noise
    t = torch.rand(actions.shape[:-1], device=actions.device) if times is None else times
    x_t = (1.0 - t.unsqueeze(-1)) * x0 + t.unsqueeze(-1) * actions
    target = actions - x0
    return (velocity(obs, x_t, t) - target).pow(2).mean()


def sample_flow(
    velocity: VelocityField,
    obs: torch.Tensor,
    num_samples: int,
    euler_steps: int,
    *,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Draw ``num_samples`` actions per state with K Euler steps, clipped to [-1, 1].

    ``obs`` is ``(B, obs_dim)``; returns ``(B, num_samples, action_dim)``. ``noise``, the
    initial Gaussian draw of that shape, is drawn fresh when None. No gradient flows.
    See docs/algorithm.md, "Reference sampler".
    """
    batch = obs.shape[0]
    shape = (batch, num_samples, velocity.action_dim)
    if noise is None:
        noise = torch.randn(shape, device=obs.device, dtype=obs.dtype)
    elif tuple(noise.shape) != shape:
        raise ValueError(
            f"sampler noise must have shape (batch, num_samples, action_dim) = {shape}, "
            f"got {tuple(noise.shape)}"
        )
    x = noise
    obs_per_sample = obs.unsqueeze(1).expand(batch, num_samples, obs.shape[-1])
    with torch.no_grad():
        for k in range(euler_steps):
            t = torch.full(shape[:2], k / euler_steps, device=obs.device, dtype=obs.dtype)
            x = x + velocity(obs_per_sample, x, t) / euler_steps
    return x.clamp(-1.0, 1.0)
