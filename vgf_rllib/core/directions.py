"""Where particles move: each variant's transport direction (docs/algorithm.md, "Variants").

A :class:`TransportField` turns a critic and a batch of states into the :data:`Direction` that
:func:`~vgf_rllib.core.transport.move_particles` follows, and carries its own training losses:

- :class:`KernelField` (``variant="vgf"``): the SVGD direction on grad_a Qbar of the online
  critics (docs/algorithm.md, "Transport"); nothing to train.
- :class:`LearnedField` (``variant="a-vgf"``): a gradient network f(s, a) regressed onto the
  stop-gradient action gradient of the MEAN of the online twins at dataset actions; the direction
  is f(s, a) itself (no kernel, no alpha, no 1/N).

:data:`VARIANTS` names each variant's field and the gradient clips that come with it, so that the
rest of the package asks the variant instead of branching on its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from vgf_rllib.core import transport as transport_module
from vgf_rllib.core.networks import GradientField, TwinCritic, TwinQAtStates
from vgf_rllib.core.transport import Direction, TransportSettings, TwinQFunction

#: the twin aggregation of A-VGF's regression target (fixed to the mean in the authors' code)
FIELD_TARGET_TWIN_AGG = "mean"


def critic_at_states(critic: nn.Module, obs: torch.Tensor) -> TwinQFunction:
    """``critic(obs, .)`` as a function of the actions. A :class:`TwinCritic` gives its action
    gradient by hand (:class:`TwinQAtStates`); any other critic module (e.g. the hand-computable
    ones of the tests) is differentiated by autograd."""
    if isinstance(critic, TwinCritic):
        return TwinQAtStates(critic, obs)
    return lambda actions: critic(obs, actions)


class TransportField(nn.Module):
    """A transport direction for a critic and states, and the losses that train it."""

    #: names of the entries :meth:`losses` returns (each one is added to the training loss)
    loss_names: tuple[str, ...] = ()

    def direction(
        self, critic: nn.Module, obs_n: torch.Tensor, settings: TransportSettings
    ) -> Direction:
        """The direction particles ``(B, N, d)`` move along at states ``obs_n`` ``(B, N, obs)``."""
        raise NotImplementedError

    def losses(
        self, critic: nn.Module, obs: torch.Tensor, actions: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """This field's training losses on dataset pairs (s, a) (none for a fixed rule)."""
        return {}


class KernelField(TransportField):
    """VGF: the SVGD direction on grad_a Qbar with ``settings``' alpha and score aggregation."""

    def direction(
        self, critic: nn.Module, obs_n: torch.Tensor, settings: TransportSettings
    ) -> Direction:
        q_fn = critic_at_states(critic, obs_n)
        return lambda particles: transport_module.kernel_direction(q_fn, particles, settings)


class LearnedField(TransportField):
    """A-VGF: the direction is a gradient network f(s, a) (critic-shaped MLP, LayerNorm)."""

    loss_names = ("field_loss",)

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.field = GradientField(obs_dim, action_dim, hidden)

    def direction(
        self, critic: nn.Module, obs_n: torch.Tensor, settings: TransportSettings
    ) -> Direction:
        def follow(particles: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return self.field(obs_n, particles)

        return follow

    def losses(
        self, critic: nn.Module, obs: torch.Tensor, actions: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """MSE of f(s, a) onto stop-grad grad_a mean(Q1, Q2)(s, a) at the dataset actions,
        averaged over the batch and action dims; no gradient reaches the critics."""
        target = transport_module.value_gradient(
            critic_at_states(critic, obs), actions, FIELD_TARGET_TWIN_AGG
        )
        return {"field_loss": (self.field(obs, actions) - target).pow(2).mean()}


@dataclass(frozen=True)
class Variant:
    """A variant of the method: its transport field and the gradient clips it trains with.

    ``max_direction_norm``: global-norm clip of each particle step (over the whole particle
    tensor when building the critic target, per state when acting; ``TransportSettings``'
    ``clip_per_state``); ``grad_clip``: global-norm clip of each network optimizer's gradients
    (critic, sampler, field), used unless RLlib's ``grad_clip`` is set.
    """

    name: str
    learned_field: bool
    max_direction_norm: float | None = None
    grad_clip: float | None = None

    def build_field(self, obs_dim: int, action_dim: int, hidden: Sequence[int]) -> TransportField:
        if self.learned_field:
            return LearnedField(obs_dim, action_dim, hidden)
        return KernelField()


#: ``variant`` -> its definition (docs/algorithm.md, "Variants")
VARIANTS: dict[str, Variant] = {
    "vgf": Variant("vgf", learned_field=False),
    "a-vgf": Variant("a-vgf", learned_field=True, max_direction_norm=1.0, grad_clip=1.0),
}

#: VGF's direction, the default wherever no field is given
KERNEL_FIELD = KernelField()


def get_variant(name: str) -> Variant:
    """The variant called ``name``; a ValueError names the valid ones otherwise."""
    if name not in VARIANTS:
        raise ValueError(f"variant must be one of {list(VARIANTS)}, got {name!r}")
    return VARIANTS[name]
