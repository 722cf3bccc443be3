"""The VGF RLModule: twin critics, their targets, the flow sampler and the variant's transport
field (A-VGF: the gradient network); acts by particle flow.

VGF keeps no policy network. ``_forward_inference`` draws N flow samples, transports them
L_test steps along the transport field's direction (VGF: the online critics' action gradient) and
returns the best one (docs/algorithm.md, "Acting and the test-time budget" and "Variants").
The transport needs ``torch.autograd.grad`` w.r.t. the particles, so inference enables grad
locally even under an outer ``no_grad`` (no parameter gradients are produced).
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.utils import make_target_network
from ray.rllib.core.rl_module.apis import InferenceOnlyAPI, TargetNetworkAPI
from ray.rllib.core.rl_module.torch import TorchRLModule
from ray.rllib.utils.typing import StateDict

from vgf_rllib.core.directions import get_variant
from vgf_rllib.core.networks import TwinCritic, VelocityField
from vgf_rllib.core.policy import ParticlePolicySettings, act_with_steps
from vgf_rllib.core.transport import TransportSettings

TARGET_CRITIC = "target_critic"
#: the ``flow_steps`` value of the per-state adaptive budget (docs/algorithm.md, "Adaptive
#: test-time budget")
AUTO = "auto"
#: default of ``max_test_flow_steps``, the most steps ``auto`` takes
DEFAULT_MAX_TEST_FLOW_STEPS = 5


class CheckpointMismatchError(ValueError):
    """A state loaded into the module lacks weights or has weights of the wrong shape."""


def policy_settings_from_model_config(
    model_config: dict[str, Any], *, flow_steps: int, acting: bool
) -> ParticlePolicySettings:
    """Particle policy settings (N, K, transport) from the module's model config, for acting or
    for the critic target (``acting=False``): they differ only in where A-VGF's direction clip
    takes its norm (docs/algorithm.md, "Variants"). Model configs of checkpoints saved before
    ``kernel_bandwidth_gradient`` existed act without it."""
    variant = get_variant(model_config.get("variant", "vgf"))
    return ParticlePolicySettings(
        num_particles=int(model_config["num_particles"]),
        euler_steps=int(model_config["sampler_euler_steps"]),
        transport=TransportSettings(
            steps=flow_steps,
            step_size=float(model_config["step_size"]),
            alpha=float(model_config["alpha"]),
            optimizer=model_config["particle_optimizer"],
            score_twin_agg=model_config["score_twin_agg"],
            max_direction_norm=variant.max_direction_norm,
            clip_per_state=acting,
            bandwidth_gradient=bool(model_config.get("kernel_bandwidth_gradient", False)),
        ),
    )


@functools.cache
def compiled_act_with_steps() -> Any:
    """:func:`act_with_steps` under ``torch.compile``, one per process: TorchDynamo keeps a graph
    per network structure and acting settings (N, K, L_test, selection), static at the first
    batch size and with a dynamic batch dim from the second (docs/algorithm.md, "Compiled
    acting")."""
    return torch.compile(act_with_steps)


class VGFTorchRLModule(TorchRLModule, TargetNetworkAPI, InferenceOnlyAPI):
    """Critics + flow sampler; acting is the VGF particle policy.

    ``model_config`` carries the VGF fields (see ``VGFConfig._model_config_auto_includes``).
    The acting budget starts at ``inference_flow_steps`` and can be changed at any time with
    :meth:`set_test_time_budget` without retraining (docs/algorithm.md, "Acting and the
    test-time budget").
    """

    def setup(self) -> None:
        config = self.model_config
        obs_dim = int(np.prod(self.observation_space.shape))
        action_dim = int(np.prod(self.action_space.shape))
        self.critic = TwinCritic(obs_dim, action_dim, config["critic_hidden_layers"])
        self.velocity = VelocityField(obs_dim, action_dim, config["sampler_hidden_layers"])
        self.variant = get_variant(config.get("variant", "vgf"))
        self.transport_field = self.variant.build_field(
            obs_dim, action_dim, config["critic_hidden_layers"]
        )
        self.max_test_flow_steps = int(config.get("max_test_flow_steps", DEFAULT_MAX_TEST_FLOW_STEPS))
        # Observation normalization statistics (identity unless the learner sets them).
        self.register_buffer("obs_mean", torch.zeros(obs_dim))
        self.register_buffer("obs_std", torch.ones(obs_dim))
        self.acting = policy_settings_from_model_config(
            config, flow_steps=int(config["inference_flow_steps"]), acting=True
        )
        #: acting through torch.compile (docs/algorithm.md, "Compiled acting"); export and the
        #: adaptive budget act eagerly
        self.compile_acting = bool(config.get("compile_acting", False))
        self.action_selection = config["action_selection"]
        self.selection_temperature = float(config["selection_temperature"])
        self.selection_twin_agg = config["target_twin_agg"]
        if not self.inference_only:
            self.make_target_networks()

    # TargetNetworkAPI
    def make_target_networks(self) -> None:
        if not hasattr(self, TARGET_CRITIC):
            self.target_critic = make_target_network(self.critic)

    def get_target_network_pairs(self) -> list[tuple[torch.nn.Module, torch.nn.Module]]:
        return [(self.critic, self.target_critic)]

    def forward_target(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Target twin Q values at (obs, actions) in ``batch``: ``(B, 2)``."""
        obs = self.normalize_observations(batch[Columns.OBS])
        return {"target_q": self.target_critic(obs, batch[Columns.ACTIONS])}

    # InferenceOnlyAPI: env runners need critics and sampler to act, not the targets.
    def get_non_inference_attributes(self) -> list[str]:
        return [TARGET_CRITIC]

    def set_observation_statistics(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Store the dataset's observation mean/std (saved in checkpoints, used when acting)."""
        self.obs_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.obs_std.copy_(torch.as_tensor(std, dtype=torch.float32))

    def normalize_observations(self, obs: torch.Tensor) -> torch.Tensor:
        return (obs.float().flatten(1) - self.obs_mean) / self.obs_std

    def set_test_time_budget(
        self,
        *,
        flow_steps: int | str | None = None,
        num_particles: int | None = None,
        step_size: float | None = None,
        max_flow_steps: int | None = None,
        euler_steps: int | None = None,
    ) -> None:
        """Change L_test, N, eps or the sampler's Euler steps K used for acting; no retraining.

        ``flow_steps="auto"``: each state transports while a step pays, at most
        ``max_flow_steps`` steps (default: the config's ``max_test_flow_steps``). See
        docs/algorithm.md, "Acting and the test-time budget" and "Adaptive test-time budget".
        """
        transport, adaptive = self.acting.transport, self.acting.adaptive
        if flow_steps == AUTO:
            limit = self.max_test_flow_steps if max_flow_steps is None else int(max_flow_steps)
            transport, adaptive = replace(transport, steps=limit), True
        elif flow_steps is not None:
            transport, adaptive = replace(transport, steps=int(flow_steps)), False
        if step_size is not None:
            transport = replace(transport, step_size=float(step_size))
        particles = self.acting.num_particles if num_particles is None else int(num_particles)
        euler = self.acting.euler_steps if euler_steps is None else int(euler_steps)
        self.acting = replace(
            self.acting, num_particles=particles, euler_steps=euler, transport=transport,
            adaptive=adaptive,
        )

    def compute_actions(
        self,
        obs: torch.Tensor | np.ndarray,
        *,
        noise: torch.Tensor | None = None,
        uniform: torch.Tensor | None = None,
    ) -> torch.Tensor | np.ndarray:
        """Actions in [-1, 1] for raw observations: one observation ``(obs_dim,)`` or a batch
        ``(B, obs_dim)``, numpy or torch; the actions come back in the same form.

        ``noise`` ``(B, N, action_dim)`` and ``uniform`` ``(B,)`` fix the acting path's random
        draws (see :func:`vgf_rllib.core.policy.act_with_steps`); fresh ones are drawn when None.
        See docs/algorithm.md, "Acting and the test-time budget".
        """
        batch, single, as_numpy = self._observation_batch(obs)
        actions, _ = self.compute_actions_and_steps(batch, noise=noise, uniform=uniform)
        actions = actions[0] if single else actions
        return actions.detach().cpu().numpy() if as_numpy else actions

    def _observation_batch(self, obs: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, bool, bool]:
        """``obs`` as a float32 ``(B, obs_dim)`` tensor on the module's device, whether it was
        one observation, and whether it was numpy; a wrong shape is refused with both shapes."""
        as_numpy = isinstance(obs, np.ndarray)
        device = self.obs_mean.device
        tensor = torch.as_tensor(obs, dtype=torch.float32, device=device) if as_numpy else obs
        expected = tuple(self.obs_mean.shape)
        single = tuple(tensor.shape) == expected
        if single:
            tensor = tensor.unsqueeze(0)
        if tensor.dim() < 2 or tuple(tensor.shape[1:]) != expected:
            raise ValueError(
                f"observations of shape {tuple(tensor.shape)}: expected {expected} (one "
                f"observation) or (batch, {', '.join(map(str, expected))})"
            )
        return tensor, single, as_numpy

    def compute_actions_and_steps(
        self,
        obs: torch.Tensor,
        *,
        noise: torch.Tensor | None = None,
        uniform: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Actions of a ``(B, obs_dim)`` batch as :meth:`compute_actions` and the transport
        steps each state took ``(B,)``."""
        act = act_with_steps
        if self.compile_acting and not self.acting.adaptive:
            act = compiled_act_with_steps()
            # the random draws stay outside the compiled graph, in eager's order, so that
            # compiled and eager acting consume the same random stream
            if noise is None:
                noise = torch.randn(
                    obs.shape[0], self.acting.num_particles, self.velocity.action_dim, device=obs.device
                )
            if uniform is None and self.action_selection != "argmax":
                uniform = torch.rand(obs.shape[0], device=obs.device)
        return act(
            self.velocity,
            self.critic,
            self.normalize_observations(obs),
            self.acting,
            score_twin_agg=self.selection_twin_agg,
            selection=self.action_selection,
            temperature=self.selection_temperature,
            field=self.transport_field,
            noise=noise,
            uniform=uniform,
        )

    def _forward_inference(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        return {Columns.ACTIONS: self.compute_actions(batch[Columns.OBS])}

    def _forward_exploration(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        return self._forward_inference(batch, **kwargs)

    def _forward_train(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        """Training losses need the transport, so they live in the learner (``vgf_losses``)."""
        return {}

    def set_state(self, state: StateDict) -> None:
        """Load weights, refusing states that lack weights or carry wrong shapes."""
        own = self.state_dict()
        missing = sorted(k for k in own if k not in state)
        if missing:
            raise CheckpointMismatchError(
                f"VGF module state is missing {len(missing)} weight(s), e.g. {missing[:3]}; "
                "the checkpoint is incomplete or from another model"
            )
        wrong = [
            f"{k}: checkpoint {tuple(np.shape(state[k]))} vs module {tuple(v.shape)}"
            for k, v in own.items()
            if tuple(np.shape(state[k])) != tuple(v.shape)
        ]
        if wrong:
            raise CheckpointMismatchError(
                "VGF module state has weights of the wrong shape (e.g. another observation or "
                f"action size or hidden layers): {wrong[:3]}"
            )
        super().set_state(state)
