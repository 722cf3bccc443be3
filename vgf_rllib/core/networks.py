"""The networks VGF trains: twin critics, the flow velocity field and A-VGF's gradient field.

See docs/algorithm.md, "Networks".
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

#: flax's LayerNorm epsilon, which the authors' critics use (torch's default is 1e-5)
LAYER_NORM_EPS = 1e-6


def mlp(
    in_dim: int, hidden: Sequence[int], out_dim: int, *, layer_norm: bool = False
) -> nn.Sequential:
    """ReLU MLP; with ``layer_norm`` every hidden layer is Linear -> LayerNorm -> ReLU.

    Every Linear layer gets Xavier-uniform weights and zero biases, the authors' initialization
    (variance scaling 1.0, fan_avg, uniform; docs/algorithm.md, "Networks"), not torch's default.
    """
    layers: list[nn.Module] = []
    width = in_dim
    for size in hidden:
        layers.append(xavier_linear(width, size))
        if layer_norm:
            layers.append(nn.LayerNorm(size, eps=LAYER_NORM_EPS))
        layers.append(nn.ReLU())
        width = size
    layers.append(xavier_linear(width, out_dim))
    return nn.Sequential(*layers)


def xavier_linear(in_dim: int, out_dim: int) -> nn.Linear:
    """A Linear layer with Xavier-uniform weights (gain 1) and zero biases."""
    layer = nn.Linear(in_dim, out_dim)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def layer_norm_mlp_input_gradient(
    net: nn.Sequential, inputs: torch.Tensor, out_grad: torch.Tensor, first: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The scalar output of a :func:`mlp` built with ``layer_norm=True`` and its input gradient
    times ``out_grad`` ``(..., 1)``, both without autograd (a forward that keeps what the
    backward needs, then the backward by hand; docs/algorithm.md, "Transport", step 1).

    Returns ``(outputs (..., 1), gradient (..., in_dim - first))``: only the input columns from
    ``first`` on are differentiated (the actions of concat(s, a)). LayerNorm statistics are
    taken in float32, as autocast runs LayerNorm.
    """
    layers = list(net)
    saved = []
    x = inputs
    for linear, norm in zip(layers[0:-1:3], layers[1:-1:3]):
        z = linear(x).float()
        centered = z - z.mean(-1, keepdim=True)
        inv_std = torch.rsqrt(centered.square().mean(-1, keepdim=True) + norm.eps)
        normalized = centered * inv_std
        pre_activation = normalized * norm.weight + norm.bias
        saved.append((linear, norm, normalized, inv_std, pre_activation > 0))
        x = torch.relu(pre_activation)
    head = layers[-1]
    outputs = head(x)
    grad = out_grad * head.weight[0]
    for index, (linear, norm, normalized, inv_std, active) in enumerate(reversed(saved)):
        grad_normalized = (grad * active).float() * norm.weight
        grad_z = inv_std * (
            grad_normalized
            - grad_normalized.mean(-1, keepdim=True)
            - normalized * (grad_normalized * normalized).mean(-1, keepdim=True)
        )
        weight = linear.weight if index < len(saved) - 1 else linear.weight[:, first:]
        grad = grad_z.to(weight.dtype) @ weight
    return outputs, grad


class TwinCritic(nn.Module):
    """Q1, Q2 on concat(s, a) with LayerNorm in the hidden layers (docs/algorithm.md, "Networks").

    ``forward`` broadcasts over any leading dims and returns ``(..., 2)``: the two Q values.
    """

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.obs_dim = obs_dim
        self.q1 = mlp(obs_dim + action_dim, hidden, 1, layer_norm=True)
        self.q2 = mlp(obs_dim + action_dim, hidden, 1, layer_norm=True)

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        inputs = torch.cat([obs, actions], dim=-1)
        return torch.cat([self.q1(inputs), self.q2(inputs)], dim=-1)

    @torch.no_grad()
    def action_gradient(self, obs: torch.Tensor, actions: torch.Tensor, twin_agg: str) -> torch.Tensor:
        """grad_a of the twins aggregated by ``twin_agg`` (``mean`` or ``min``), ``(..., d)``,
        computed by hand (no autograd graph, no gradient to parameters; equal to
        ``torch.autograd.grad`` within float tolerance, tests/test_core_networks.py)."""
        if twin_agg not in ("mean", "min"):
            raise ValueError(f"twin aggregation must be one of ('mean', 'min'), got {twin_agg!r}")
        inputs = torch.cat([obs, actions], dim=-1)
        if twin_agg == "mean":
            half = torch.full_like(actions[..., :1], 0.5)
            _, grad1 = layer_norm_mlp_input_gradient(self.q1, inputs, half, self.obs_dim)
            _, grad2 = layer_norm_mlp_input_gradient(self.q2, inputs, half, self.obs_dim)
            return (grad1 + grad2).to(actions.dtype)
        ones = torch.ones_like(actions[..., :1])
        q1, grad1 = layer_norm_mlp_input_gradient(self.q1, inputs, ones, self.obs_dim)
        q2, grad2 = layer_norm_mlp_input_gradient(self.q2, inputs, ones, self.obs_dim)
        # min's gradient goes to the first minimum, as autograd's
        return torch.where(q1 <= q2, grad1, grad2).to(actions.dtype)


class TwinQAtStates:
    """Twin critics with the states fixed: a function of the actions ``(..., d) -> (..., 2)``
    (a ``TwinQFunction`` of :mod:`vgf_rllib.core.transport`) whose action gradient is taken by
    :meth:`TwinCritic.action_gradient` rather than autograd."""

    def __init__(self, critic: TwinCritic, obs: torch.Tensor) -> None:
        self.critic = critic
        self.obs = obs

    def __call__(self, actions: torch.Tensor) -> torch.Tensor:
        return self.critic(self.obs, actions)

    def action_gradient(self, actions: torch.Tensor, twin_agg: str) -> torch.Tensor:
        return self.critic.action_gradient(self.obs, actions, twin_agg)


class GradientField(nn.Module):
    """A-VGF's gradient network f(s, a): a critic-shaped MLP (LayerNorm in the hidden layers) on
    concat(s, a) with one output per action dim, regressed onto grad_a Qbar (docs/algorithm.md,
    "Variants"). ``forward`` broadcasts over any leading dims and returns ``(..., d)``."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(obs_dim + action_dim, hidden, action_dim, layer_norm=True)

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, actions], dim=-1))


class VelocityField(nn.Module):
    """Flow-matching velocity v(s, x, t): an MLP on concat(s, x, t).

    See docs/algorithm.md, "Networks" and "Reference sampler".
    """

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.action_dim = action_dim
        self.net = mlp(obs_dim + action_dim + 1, hidden, action_dim)

    def forward(self, obs: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``t`` has the leading shape of ``x`` (one time per row), without the action dim."""
        return self.net(torch.cat([obs, x, t.unsqueeze(-1)], dim=-1))


@torch.no_grad()
def polyak_update(main: nn.Module, target: nn.Module, tau: float) -> None:
    """target <- tau * main + (1 - tau) * target, in place on every parameter (one multi-tensor
    ``lerp``). See docs/algorithm.md, "Critic target", step 6.
    """
    torch._foreach_lerp_(list(target.parameters()), list(main.parameters()), tau)
