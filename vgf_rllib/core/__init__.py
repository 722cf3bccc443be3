"""Pure-torch VGF: networks, flow sampler, particle transport, losses, selection.

Nothing here imports Ray; every piece is testable on its own. See docs/algorithm.md.
"""

from vgf_rllib.core.flow import flow_matching_loss, sample_flow
from vgf_rllib.core.losses import td_target, twin_critic_loss, vgf_losses
from vgf_rllib.core.networks import TwinCritic, VelocityField
from vgf_rllib.core.policy import ParticlePolicySettings, act, propose_particles
from vgf_rllib.core.selection import select_action
from vgf_rllib.core.transport import TransportSettings, svgd_direction, transport

__all__ = [
    "ParticlePolicySettings",
    "TransportSettings",
    "TwinCritic",
    "VelocityField",
    "act",
    "flow_matching_loss",
    "propose_particles",
    "sample_flow",
    "select_action",
    "svgd_direction",
    "td_target",
    "transport",
    "twin_critic_loss",
    "vgf_losses",
]
