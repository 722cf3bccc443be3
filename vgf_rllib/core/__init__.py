"""Pure-torch VGF: networks, flow sampler, particle transport (and its direction per variant),
the adaptive test-time budget, losses, selection.

Nothing here imports Ray; every piece is testable on its own. See docs/algorithm.md.
"""

from vgf_rllib.core.adaptive import adaptive_transport
from vgf_rllib.core.directions import VARIANTS, KernelField, LearnedField, TransportField
from vgf_rllib.core.flow import flow_matching_loss, sample_flow
from vgf_rllib.core.losses import td_target, twin_critic_loss, vgf_losses
from vgf_rllib.core.networks import GradientField, TwinCritic, VelocityField
from vgf_rllib.core.policy import ParticlePolicySettings, act_with_steps, propose_particles
from vgf_rllib.core.selection import select_action
from vgf_rllib.core.transport import (
    TransportSettings,
    move_particles,
    svgd_direction,
    transport,
)

__all__ = [
    "VARIANTS",
    "GradientField",
    "KernelField",
    "LearnedField",
    "ParticlePolicySettings",
    "TransportField",
    "TransportSettings",
    "TwinCritic",
    "VelocityField",
    "act_with_steps",
    "adaptive_transport",
    "flow_matching_loss",
    "move_particles",
    "propose_particles",
    "sample_flow",
    "select_action",
    "svgd_direction",
    "td_target",
    "transport",
    "twin_critic_loss",
    "vgf_losses",
]
