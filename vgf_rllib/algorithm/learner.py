"""VGFTorchLearner: trains twin critics, the flow sampler and the variant's transport field (A-VGF:
the gradient network) jointly on a device-resident dataset.

Deviations from RLlib's offline learners, on purpose:
- The dataset lives as tensors on the learner's device; minibatches are drawn i.i.d. with
  ``torch.randint`` there (no Ray Data pipeline, no time-contiguous batches). Online
  transitions are appended to the same device-resident buffer
  (:class:`~vgf_rllib.algorithm.replay.ResidentReplayBuffer`; docs/algorithm.md,
  "Offline-to-online fine-tuning").
- Target critics are Polyak-updated at EVERY gradient step (in ``apply_gradients``), from the
  critics after the step by default or before it with ``target_update="pre-step"`` (the
  authors'). RLlib's usual hook, ``after_gradient_based_update``, runs once per ``update()``
  call, i.e. once per training iteration of many gradient steps (RLlib's CQL applies Polyak
  that way); tau = 0.005 assumes one update per step (docs/algorithm.md, "Critic target",
  step 6, and item 5 of "Deviations from the authors' code").
- A-VGF clips each optimizer's gradients (critic, sampler, field) to global norm 1.0 unless
  RLlib's ``grad_clip`` is set (docs/algorithm.md, "Variants").
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import ray
import torch
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from ray.rllib.utils.torch_utils import clip_gradients
from ray.rllib.utils.typing import ModuleID, ParamDict, StateDict

from vgf_rllib.algorithm.replay import ResidentReplayBuffer, shard_rows
from vgf_rllib.algorithm.rl_module import policy_settings_from_model_config
from vgf_rllib.compile_guard import CompiledOrEager
from vgf_rllib.core.losses import LossDraws, vgf_losses
from vgf_rllib.core.networks import polyak_update
from vgf_rllib.core.policy import ParticlePolicySettings
from vgf_rllib.hardware import bf16_cpu_warning
from vgf_rllib.logs import warn

CRITIC_OPTIMIZER = "critic"
SAMPLER_OPTIMIZER = "sampler"
FIELD_OPTIMIZER = "field"
TRAIN_FIELDS = ("observations", "actions", "rewards", "next_observations", "masks")
METRIC_NAMES = ("critic_loss", "flow_loss", "q_mean", "target_mean")
NUM_UPDATES_LIFETIME = "num_gradient_updates_lifetime"
#: ``target_update``: Polyak from the critics after this step's optimizer step (default) or
#: before it, as the authors' ``target_update(self.critic, ...)`` on the pre-step critic
TARGET_UPDATES = ("post-step", "pre-step")
BUFFER_STATE = "replay_buffer"


class NonFiniteLossError(FloatingPointError):
    """A training loss or Q statistic became NaN or infinite."""


class VGFTorchLearner(TorchLearner):
    """One optimizer per network group: ``critic`` (twin Q), ``sampler`` (flow field) and, where
    the variant learns its transport field (A-VGF), ``field`` (learning rate ``critic_lr``, as the
    authors' value learning rate)."""

    def build(self) -> None:
        super().build()
        self._data: ResidentReplayBuffer | None = None
        self._num_updates = 0
        self._policy_settings: dict[ModuleID, ParticlePolicySettings] = {}
        self._index_generator = torch.Generator(device=self._device)
        self._index_generator.manual_seed(int(self.config.seed or 0) + 7919 * (self._learner_index or 0))
        if self._learner_index:  # RLlib seeds every learner's torch RNG (the loss draws) alike
            torch.manual_seed(self._learner_seed(int(self.config.seed or 0)))
        if self._device.type == "cuda":  # a process-wide switch; learners own their process
            torch.backends.cuda.matmul.allow_tf32 = bool(self.config.allow_tf32)
            torch.backends.cudnn.allow_tf32 = bool(self.config.allow_tf32)
        if self._device.type == "cpu" and self.config.precision == "bf16":
            message = bf16_cpu_warning()
            if message is not None:
                warn(message)
        # one compiled graph per module and shapes (docs/algorithm.md, "Compiled update step")
        self._losses_fn = (
            CompiledOrEager(vgf_losses, dynamic=False) if self.config.compile_learner else vgf_losses
        )

    def _learner_seed(self, base: int) -> int:
        """A seed of this learner's own, derived from ``base`` and the learner index."""
        sequence = np.random.SeedSequence([base, int(self._learner_index or 0)])
        return int(sequence.generate_state(1, np.uint64)[0] >> np.uint64(1))

    def configure_optimizers_for_module(self, module_id: ModuleID, config: Any = None) -> None:
        module = self._module[module_id]
        for name, network, lr in (
            (CRITIC_OPTIMIZER, module.critic, config.critic_lr),
            (SAMPLER_OPTIMIZER, module.velocity, config.sampler_lr),
            (FIELD_OPTIMIZER, module.transport_field, config.critic_lr),
        ):
            params = self.get_parameters(network)
            if not params:  # VGF's kernel field has nothing to train
                continue
            self.register_optimizer(
                module_id=module_id,
                optimizer_name=name,
                optimizer=torch.optim.Adam(params, fused=True),
                params=params,
                lr_or_lr_schedule=lr,
            )

    def compute_loss_for_module(
        self, *, module_id: ModuleID, config: Any, batch: dict[str, Any], fwd_out: dict[str, Any]
    ) -> torch.Tensor:
        """Critic TD loss + flow-matching loss (+ the field's losses); each touches only its own
        network's parameters, so one backward pass serves all, and the A-VGF field regresses onto
        the critics before this step's update, as in the authors' code.

        See docs/algorithm.md, "Critic target" and "Variants".
        """
        module = self._module[module_id].unwrapped()
        settings = self.training_policy_settings(module_id)
        actions = batch["actions"]
        draws = LossDraws.sample(actions.shape[0], settings.num_particles, actions.shape[-1], actions.device)
        with torch.autocast(
            self._device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16"
        ):
            losses = self._losses_fn(
                module.velocity,
                module.critic,
                module.target_critic,
                batch,
                settings,
                module.transport_field,
                gamma=config.gamma,
                target_twin_agg=config.target_twin_agg,
                particle_agg=config.particle_agg,
                draws=draws,
            )
        losses = {name: value.float() for name, value in losses.items()}
        self._step_metrics = losses
        field_losses = [losses[name] for name in module.transport_field.loss_names]
        return losses["critic_loss"] + losses["flow_loss"] + sum(field_losses)

    def postprocess_gradients_for_module(
        self, *, module_id: ModuleID, config: Any = None, module_gradients_dict: ParamDict
    ) -> ParamDict:
        """RLlib's clipping when ``grad_clip`` is set; else the variant's own global-norm clip per
        optimizer (A-VGF: 1.0), as each of the authors' networks clips its own gradients."""
        clip = self._module[module_id].unwrapped().variant.grad_clip
        if config.grad_clip is not None or clip is None:
            return super().postprocess_gradients_for_module(
                module_id=module_id, config=config, module_gradients_dict=module_gradients_dict
            )
        for _, optimizer in self.get_optimizers_for_module(module_id):
            grads = self.filter_param_dict_for_optimizer(module_gradients_dict, optimizer)
            clip_gradients(grads, grad_clip=clip, grad_clip_by="global_norm")
            module_gradients_dict.update(grads)
        return module_gradients_dict

    def training_policy_settings(self, module_id: ModuleID) -> ParticlePolicySettings:
        """N, K and the transport at L_train for the critic target, built once per module.

        Built by the function that builds the module's acting settings
        (``policy_settings_from_model_config``), from the same model config; see
        docs/algorithm.md, "Critic target", step 1. With several learners a clipped direction
        (A-VGF) takes its norm over every learner's particles.
        """
        if module_id not in self._policy_settings:
            settings = policy_settings_from_model_config(
                self._module[module_id].unwrapped().model_config,
                flow_steps=self.config.get_config_for_module(module_id).train_flow_steps,
                acting=False,
            )
            if self.config.num_learners > 1 and settings.transport.max_direction_norm is not None:
                # A-VGF's direction clip over the union of the learners' minibatches
                # (docs/algorithm.md, "Learners and data parallelism")
                transport = replace(settings.transport, norm_across_learners=True)
                settings = replace(settings, transport=transport)
            self._policy_settings[module_id] = settings
        return self._policy_settings[module_id]

    def apply_gradients(self, gradients_dict: ParamDict) -> None:
        """Optimizer steps and the Polyak average of the target critics (every gradient step),
        from the critics before the steps where ``target_update="pre-step"``, else after them.

        RLlib's version first tests every gradient for NaN/inf (one host sync per parameter and
        step) and zeroes bad ones with a warning; here gradients go to the optimizers as they
        are, and a non-finite loss or weight stops training with :class:`NonFiniteLossError`
        at the end of the call, as the authors' code never zeroes gradients either (list of
        deviations from RLlib in ``vgf_rllib/algorithm/vgf.py``). VGF sets no LR schedules.
        """
        for param_id, grad in gradients_dict.items():
            self._params[param_id].grad = grad
        self._update_targets("pre-step")
        for module_id, optimizer_names in self._module_optimizers.items():
            for optimizer_name in optimizer_names:
                self.get_optimizer(module_id, optimizer_name).step()
        self._update_targets("post-step")

    def _update_targets(self, when: str) -> None:
        """Polyak-average the target critics of the modules whose ``target_update`` is ``when``
        (docs/algorithm.md, "Critic target", step 6)."""
        for module_id in self.module.keys():
            config = self.config.get_config_for_module(module_id)
            if config.target_update != when:
                continue
            for main, target in self.module[module_id].unwrapped().get_target_network_pairs():
                polyak_update(main, target, config.tau)

    def load_resident_dataset(
        self,
        source: Mapping[str, np.ndarray] | Any,
        obs_mean: np.ndarray | None = None,
        obs_std: np.ndarray | None = None,
        *,
        capacity: int | None = None,
    ) -> int:
        """Put this learner's rows on its device, where they stay (float32 rows on the CPU
        are used in place, not copied; ``normalize_observations`` z-scores copies of the
        observations with ``obs_mean``/``obs_std``); returns how many rows it holds.

        ``source`` is the arrays, or an ObjectRef to the run's
        :class:`~vgf_rllib.algorithm.data_setup.PreparedData` (remote learners take it from
        Ray's object store, zero-copy on their node). With ``num_learners`` > 1 and
        ``shard_dataset_across_learners``, the learner keeps only its shard
        (:func:`~vgf_rllib.algorithm.replay.shard_rows`). ``capacity`` (the whole run's
        rows, None: the dataset alone) > the dataset size leaves room for online transitions
        (:meth:`append_transitions`), which every learner receives in full.
        """
        arrays = source if isinstance(source, Mapping) else ray.get(source).dataset.as_dict()
        size = len(arrays[TRAIN_FIELDS[0]])
        rows = self._shard_rows(size)
        module = self.module[DEFAULT_MODULE_ID].unwrapped()
        if obs_mean is not None:
            module.set_observation_statistics(obs_mean, obs_std)
        with warnings.catch_warnings():
            # object-store arrays are read-only; offline rows are never written in place (a
            # buffer with room for online rows copies them into new storage)
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            data = {
                name: torch.as_tensor(
                    arrays[name] if rows is None else arrays[name][rows],
                    dtype=torch.float32,
                    device=self._device,
                )
                for name in TRAIN_FIELDS
            }
        held = size if rows is None else len(rows)
        self._data = ResidentReplayBuffer(
            self._normalized(data), None if capacity is None else capacity - size + held
        )
        return held

    def _normalized(self, rows: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``rows`` with observations z-scored by the module's statistics where
        ``normalize_observations`` is on (new tensors); else as they are, so that the offline
        rows are not copied."""
        if self.config.normalize_observations:
            module = self.module[DEFAULT_MODULE_ID].unwrapped()
            for name in ("observations", "next_observations"):
                rows[name] = module.normalize_observations(rows[name])
        return rows

    def _shard_rows(self, size: int) -> np.ndarray | None:
        """This learner's row indices when the dataset is sharded across learners, else None."""
        count = self.config.num_learners
        if count <= 1 or not self.config.shard_dataset_across_learners:
            return None
        return shard_rows(size, self._learner_index or 0, count, seed=int(self.config.seed or 0))

    def append_transitions(self, arrays: dict[str, np.ndarray]) -> int:
        """Append online transitions (raw observations) to the buffer; returns the number of
        online transitions appended so far (docs/algorithm.md, "Offline-to-online fine-tuning")."""
        if self._data is None:
            raise RuntimeError("load_resident_dataset() must run before appending transitions")
        rows = {
            name: torch.as_tensor(arrays[name], dtype=torch.float32, device=self._device)
            for name in TRAIN_FIELDS
        }
        self._data.append(self._normalized(rows))
        return self._data.num_appended

    @property
    def num_updates(self) -> int:
        """Gradient steps taken so far (restored from checkpoints)."""
        return self._num_updates

    @property
    def num_online_transitions(self) -> int:
        """Online transitions appended since the dataset was loaded (0 before loading)."""
        return 0 if self._data is None else self._data.num_appended

    def train_on_resident_data(self, num_updates: int) -> dict[str, Any]:
        """Run ``num_updates`` gradient steps on i.i.d. minibatches; return reduced metrics."""
        if self._data is None:
            raise RuntimeError("load_resident_dataset() must run before training")
        batch_size = self.config.train_batch_size_per_learner
        field = self.module[DEFAULT_MODULE_ID].unwrapped().transport_field
        names = METRIC_NAMES + field.loss_names
        totals = torch.zeros(len(names), device=self._device)
        for _ in range(num_updates):
            batch = self._data.sample(batch_size, self._index_generator)
            self._update({DEFAULT_MODULE_ID: batch})
            totals += torch.stack([self._step_metrics[name].detach() for name in names])
        self._num_updates += num_updates
        self._weights_seq_no += 1
        means = (totals / num_updates).tolist()
        for name, value in zip(names, means):
            if not math.isfinite(value):
                first = self._num_updates - num_updates + 1
                raise NonFiniteLossError(
                    f"{name} became {value} during gradient updates {first}-{self._num_updates}: "
                    "training stopped (check rewards and observations for huge values; "
                    "normalize_observations=True or a reward scale may help)"
                )
            self.metrics.log_value((DEFAULT_MODULE_ID, name), value, window=1)
        self._check_finite_parameters(num_updates)
        self.metrics.log_value(NUM_UPDATES_LIFETIME, self._num_updates, window=1)
        return self.metrics.reduce()

    def _check_finite_parameters(self, num_updates: int) -> None:
        """Raise NonFiniteLossError naming the first network whose weights hold NaN or inf
        (one reduction per network on the device, once per call)."""
        module = self.module[DEFAULT_MODULE_ID].unwrapped()
        for name, network in module.named_children():
            params = [p for p in network.parameters()]
            if params and not bool(torch.stack([p.isfinite().all() for p in params]).all()):
                first = self._num_updates - num_updates + 1
                raise NonFiniteLossError(
                    f"the {name} weights became non-finite during gradient updates "
                    f"{first}-{self._num_updates}: training stopped"
                )

    def get_state(
        self, components: Any = None, *, not_components: Any = None, **kwargs
    ) -> StateDict:
        """Learner state plus what exact resumption needs: update count, RNG states and (in
        full states such as checkpoints, not weight syncs) the buffer's online rows."""
        state = super().get_state(components, not_components=not_components, **kwargs)
        state[NUM_UPDATES_LIFETIME] = self._num_updates
        state["index_generator_state"] = self._index_generator.get_state()
        state["torch_rng_state"] = torch.get_rng_state()
        full = self._check_component(BUFFER_STATE, components, not_components)
        if self._data is not None and full:  # the offline rows come from the dataset
            state[BUFFER_STATE] = self._data.get_state()
        if self._device.type == "cuda":
            state["cuda_rng_state"] = torch.cuda.get_rng_state(self._device)
        return state

    def set_state(self, state: StateDict) -> None:
        """Restore what :meth:`get_state` saved; with several learners, the second and later
        continue random streams of their own, derived from the restored ones."""
        super().set_state(state)
        self._num_updates = int(state.get(NUM_UPDATES_LIFETIME, self._num_updates))
        if BUFFER_STATE in state:
            if self._data is None:
                raise RuntimeError("load_resident_dataset() must run before restoring the buffer")
            self._data.set_state(state[BUFFER_STATE])
        if "index_generator_state" in state:
            self._index_generator.set_state(torch.as_tensor(state["index_generator_state"]))
        if "torch_rng_state" in state:
            torch.set_rng_state(torch.as_tensor(state["torch_rng_state"]))
        if "cuda_rng_state" in state and self._device.type == "cuda":
            torch.cuda.set_rng_state(torch.as_tensor(state["cuda_rng_state"]), self._device)
        if self._learner_index and "index_generator_state" in state:
            # RLlib gives every learner the first learner's state (checkpoints hold only its):
            # learner 0 continues its streams, the others derive their own from them, so that
            # no two learners draw the same minibatches and noise after a restore
            generator = self._index_generator
            draw = int(torch.randint(2**62, (1,), generator=generator, device=self._device))
            generator.manual_seed(self._learner_seed(draw))
            torch.manual_seed(self._learner_seed(int(torch.randint(2**62, (1,)))))
