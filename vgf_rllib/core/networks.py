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


class TwinCritic(nn.Module):
    """Q1, Q2 on concat(s, a) with LayerNorm in the hidden layers (docs/algorithm.md, "Networks").

    ``forward`` broadcasts over any leading dims and returns ``(..., 2)``: the two Q values.
    """

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.q1 = mlp(obs_dim + action_dim, hidden, 1, layer_norm=True)
        self.q2 = mlp(obs_dim + action_dim, hidden, 1, layer_norm=True)

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        inputs = torch.cat([obs, actions], dim=-1)
        return torch.cat([self.q1(inputs), self.q2(inputs)], dim=-1)


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
    """target <- tau * main + (1 - tau) * target, in place on every parameter.

    See docs/algorithm.md, "Critic target", step 6.
    """
    for target_param, main_param in zip(target.parameters(), main.parameters()):
        target_param.lerp_(main_param, tau)
