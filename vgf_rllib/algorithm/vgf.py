"""VGFConfig and VGF (Xu, Hu, Sojoudi, Zhang, ICLR 2026) in one module, as RLlib keeps each
algorithm's config beside its Algorithm class.

Deviations of the config from RLlib's usual offline setup, on purpose:
- VGF reads RLlib's offline input (``offline_data(input_=...)``: paths, URIs or a
  ``ray.data.Dataset``, in RLlib's column or episode layout) or its own dataset specs
  (``offline_dataset(dataset=...)``) once, through Ray Data, on the driver, and holds the rows as
  tensors on each learner's device, drawing i.i.d. minibatches there: measured at about the speed
  of a bare PyTorch loop, whereas RLlib's streaming OfflineData pipeline yields time-contiguous
  minibatches (unless a local shuffle buffer is set) and costs seconds of startup per iteration.
  So ``is_offline`` is False: RLlib builds no OfflineData for VGF (docs/data.md, "RLlib
  recordings"; docs/algorithm.md, "Deviations from the authors' code", item 4).
- Evaluation runs VGF's own loop (``test_time(...)``) so one checkpoint is scored at several
  test-time budgets L_test on the same seeded episodes, every ``eval_interval`` iterations;
  RLlib's ``evaluation_interval`` and ``evaluation_duration`` are refused, naming the VGF field
  to use. ``evaluation(evaluation_num_env_runners=k)`` spreads each evaluation's episodes over k
  EnvRunners (docs/algorithm.md, "Acting and the test-time budget" and "Evaluation on
  EnvRunners").
- ``env_runners(num_env_runners=k)`` is refused on an offline-only config (EnvRunners collect
  only for offline-to-online).
- ``lr`` is None: the critics and the flow sampler have their own learning rates.

Deviations of the algorithm from RLlib's offline algorithms, on purpose:
- ``setup`` loads the dataset once on the driver (or takes a sweep driver's shared copy from
  Ray's object store; ``algorithm/data_setup.py``), and hands it to every learner (remote ones
  by object reference), which keeps its rows, a ~1/k shard with k > 1 learners, on its device
  (docs/algorithm.md, "Learners and data parallelism").
- ``training_step`` runs ``updates_per_iteration`` gradient steps inside each learner.
- ``step`` adds ``vgf_eval`` (one record per L_test) on evaluation iterations.
- The learner's ``apply_gradients`` does not test each gradient for NaN/inf (RLlib's version
  syncs the device once per parameter and step, then zeroes bad gradients with a warning): a
  non-finite loss or weight stops training with an error naming it at the end of the call.
- The learner's losses run under ``torch.compile`` by default (``compile_learner``), not
  RLlib's ``torch_compile_learner`` (which compiles ``forward_train``, where VGF computes
  nothing); its Adam optimizers are torch's fused ones (docs/algorithm.md, "Compiled update
  step").
- Offline-to-online (``online(online_env_steps=...)``): after ``offline_updates`` gradient
  steps, EnvRunners (:class:`~vgf_rllib.algorithm.env_runner.VGFEnvRunner`) collect
  transitions that are appended to the learner-resident buffer; the learner's weights are
  synced to them after every iteration (docs/algorithm.md, "Offline-to-online fine-tuning").
- ``restore_from_path`` skips RLlib's EnvRunner sync and syncs weights itself, only where
  EnvRunners exist. RLlib's own restore syncs weights to the ``env_runner_group``, which is
  None for an offline-only algorithm, so its ``from_checkpoint`` / ``restore_from_path`` (and
  with them Tune restore) crash, as they do for RLlib's own BC; with this override
  ``VGF.from_checkpoint`` and Tune restore work.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from functools import partial
from typing import Any, Sequence

import numpy as np
import ray
import torch
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_RL_MODULE, DEFAULT_MODULE_ID
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.utils.checkpoints import Checkpointable
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, LEARNER_RESULTS
from ray.rllib.utils.typing import ResultDict
from ray.tune.registry import register_env
from tqdm.auto import tqdm

from vgf_rllib.algorithm.data_setup import prepare_data
from vgf_rllib.algorithm.env_runner import VGFEnvRunner
from vgf_rllib.algorithm.eval_runners import play_on_env_runners
from vgf_rllib.algorithm.field_hints import suggestions
from vgf_rllib.algorithm.learner import NUM_UPDATES_LIFETIME, TARGET_UPDATES, VGFTorchLearner
from vgf_rllib.algorithm.online import online_rewards, updates_due
from vgf_rllib.algorithm.rl_module import AUTO, DEFAULT_MAX_TEST_FLOW_STEPS, VGFTorchRLModule
from vgf_rllib.core.directions import VARIANTS
from vgf_rllib.core.losses import PARTICLE_AGGREGATIONS
from vgf_rllib.core.selection import ACTION_SELECTIONS
from vgf_rllib.core.transport import (
    PARTICLE_OPTIMIZERS,
    TWIN_AGGREGATIONS,
    transport_peak_bytes,
)
from vgf_rllib.data import observation_statistics
from vgf_rllib.data.rllib_input import input_given
from vgf_rllib.envs import make_env
from vgf_rllib.evaluation import (
    EVAL_EPISODES,
    OGBENCH_PREFIX,
    SUCCESS_TIMINGS,
    evaluate_budgets,
    evaluation_seed,
    results_by_budget,
    success_timing_kwargs,
    summarize_budgets,
)

#: learner precisions: fp32, or bf16 autocast of the loss forwards (docs/algorithm.md, "Precision")
PRECISIONS = ("fp32", "bf16")

#: config fields the RLModule needs (passed through ``model_config``)
MODULE_FIELDS = (
    "variant",
    "compile_acting",
    "max_test_flow_steps",
    "critic_hidden_layers",
    "sampler_hidden_layers",
    "num_particles",
    "sampler_euler_steps",
    "step_size",
    "alpha",
    "particle_optimizer",
    "score_twin_agg",
    "kernel_bandwidth_gradient",
    "target_twin_agg",
    "action_selection",
    "selection_temperature",
)


#: integer config fields and their smallest valid value (validated in ``VGFConfig.validate``)
INT_FIELD_MINIMUMS = {
    "num_particles": 1,
    "sampler_euler_steps": 1,
    "train_flow_steps": 0,
    "updates_per_iteration": 1,
    "train_batch_size_per_learner": 1,
    "eval_interval": 0,
    "eval_episodes": 1,
    "max_test_flow_steps": 1,
    "inference_flow_steps": 0,
    "eval_num_particles": 1,
    "online_env_steps": 0,
    "offline_updates": 0,
    "online_steps_per_iteration": 1,
    "online_sync_steps": 1,
    "online_warmup_steps": 0,
    "online_flow_steps": 0,
    "buffer_capacity": 1,
}
#: the integer fields that may also be None (then: a default derived elsewhere)
OPTIONAL_INT_FIELDS = (
    "inference_flow_steps", "eval_num_particles", "buffer_capacity", "online_sync_steps"
)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int_list(value: Any, *, minimum: int) -> bool:
    """A non-empty list (or tuple) of ints >= ``minimum``."""
    return (
        isinstance(value, (list, tuple))
        and len(value) > 0
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in value)
    )


class VGFConfig(AlgorithmConfig):
    """Configuration of Value Gradient Flow (Xu et al., ICLR 2026).

    .. code-block:: python

        from vgf_rllib import VGFConfig

        config = (
            VGFConfig()
            .environment("Pendulum-v1")
            .offline_dataset(dataset="pendulum.npz")
            .training(num_particles=10, step_size=0.1, train_flow_steps=1)
            .test_time(test_flow_steps=[0, 1, 2, 3], eval_interval=10, eval_episodes=10)
        )
        algo = config.build_algo()
        print(algo.train()["vgf_eval"])
    """

    def __init__(self, algo_class: type | None = None) -> None:
        super().__init__(algo_class=algo_class or VGF)
        # Tune's system-usage monitor needs psutil and GPUtil, which are not dependencies; left
        # on it only logs "Install gputil" (docs/runs.md).
        self.log_sys_usage = False
        self.env_runner_cls = VGFEnvRunner   # acts with online_flow_steps, returns transitions
        # Seeded by default, as the authors' main.py (seed 0): the same run gives the same numbers
        # on the same machine; None (RLlib's default) gives a different run each time.
        self.seed = 0
        # fmt: off
        # Data (docs/algorithm.md, "Data"; docs/data.md): a path (.npz, .parquet, Minari dir),
        # "ogbench:<name>", "minari:<id>".
        self.dataset: Any = None
        self.dataset_dir: str | None = None   # where suite loaders look for files
        self.rescale_actions = False          # map actions from the env's bounds to [-1, 1]
        self.normalize_observations = False   # z-score observations (stats saved in checkpoint)
        self.shard_dataset_across_learners = True  # num_learners > 1: each holds ~1/k of the rows
        self.task_name: str | None = None     # the sweep task of a trial (a label; sweeps set it)
        # Networks and optimizers (docs/algorithm.md, "Networks" and "Defaults").
        self.critic_hidden_layers = [512, 512, 512, 512]   # twin critics, LayerNorm + ReLU
        self.sampler_hidden_layers = [512, 512, 512, 512]  # flow velocity field, ReLU
        self.critic_lr = 3e-4                 # Adam learning rate of the twin critics
        self.sampler_lr = 3e-4                # Adam learning rate of the flow sampler
        self.tau = 0.005                      # Polyak rate, applied at EVERY gradient step
        self.target_update = "post-step"      # Polyak from the critics after (or before) the step
        self.gamma = 0.99                     # discount (0.995 for long-horizon mazes)
        self.train_batch_size_per_learner = 256  # minibatch size per gradient step
        self.updates_per_iteration = 1000     # gradient steps per `train()` call
        self.precision = "fp32"               # "fp32", or "bf16": autocast of the loss forwards
        self.allow_tf32 = True                # TF32 matmuls on CUDA learners (fp32 elsewhere)
        self.compile_learner = True           # torch.compile the losses of a gradient step
        self.compile_acting = False           # torch.compile the module's acting path
        self.lr = None                        # unused: see critic_lr / sampler_lr
        # Value gradient flow (docs/algorithm.md, "Transport", "Variants" and "Defaults").
        self.variant = "vgf"                  # "vgf" (kernel direction) or "a-vgf" (learned field)
        self.num_particles = 10               # N particles per state
        self.sampler_euler_steps = 10         # K Euler steps of the flow sampler
        self.train_flow_steps = 1             # L_train transport steps for the TD target
        self.step_size = 0.1                  # eps, the particle step size
        self.alpha = 1.0                      # temperature of the Boltzmann target
        self.particle_optimizer = "adam"      # "adam" (authors' code) or "sgd" (paper)
        self.score_twin_agg = "mean"          # twin aggregation inside grad_a Qbar
        self.kernel_bandwidth_gradient = False  # differentiate the repulsion through sigma too
        self.target_twin_agg = "min"          # twin aggregation of target values and scores
        self.particle_agg = "mean"            # aggregation over next-state particles
        self.action_selection = "argmax"      # "argmax", "softmax" or "random"
        self.selection_temperature = 1.0      # temperature of softmax selection
        # Test time (docs/algorithm.md, "Acting and the test-time budget").
        self.test_flow_steps = [0, 1, 2, 3]   # L_test budgets scored by each evaluation ("auto" too)
        self.max_test_flow_steps = DEFAULT_MAX_TEST_FLOW_STEPS  # most steps of the "auto" budget
        self.inference_flow_steps = None      # L of the module's own acting (None: L_train)
        self.eval_interval = 0                # evaluate every this many iterations (0: never)
        self.eval_episodes = EVAL_EPISODES    # episodes per L_test and evaluation (50)
        self.eval_num_particles = None        # N at test time (None: num_particles)
        self.eval_step_size = None            # eps at test time (None: step_size)
        self.success_timing = None            # OGBench: "pre" / "post" (None: ogbench default)
        # Offline-to-online (docs/algorithm.md, "Offline-to-online fine-tuning"); EnvRunners
        # are RLlib's: num_env_runners, num_envs_per_env_runner (`env_runners(...)`).
        self.online_env_steps = 0             # env steps to collect (0: offline only)
        self.offline_updates = 0              # gradient steps before collection starts
        self.online_steps_per_iteration = 1000  # env steps collected per `train()` call
        self.online_sync_steps = None         # env steps between weight syncs (None: iteration)
        self.online_warmup_steps = 5000       # online env steps before updates resume
        self.updates_per_env_step = 1.0       # gradient steps per collected env step
        self.buffer_capacity = None           # ring capacity (None: dataset + online_env_steps)
        self.online_flow_steps = 0            # L when EnvRunners act (0: best-of-N, authors)
        # fmt: on

    @property
    def uses_rllib_input(self) -> bool:
        """Whether the data comes from RLlib's ``offline_data(input_=...)``."""
        return input_given(self.input_)

    @property
    def is_offline(self) -> bool:
        """False: VGF reads ``input_`` itself into learner-resident tensors, so RLlib must not
        build its streaming OfflineData pipeline (nor ask for spaces a VGF run derives)."""
        return False

    @property
    def is_online(self) -> bool:
        """Whether EnvRunners are built: only for offline-to-online (``online_env_steps > 0``)."""
        return bool(self.online_env_steps)

    def training(
        self,
        *,
        critic_hidden_layers: Sequence[int] | None = NotProvided,
        sampler_hidden_layers: Sequence[int] | None = NotProvided,
        critic_lr: float | None = NotProvided,
        sampler_lr: float | None = NotProvided,
        tau: float | None = NotProvided,
        target_update: str | None = NotProvided,
        updates_per_iteration: int | None = NotProvided,
        precision: str | None = NotProvided,
        allow_tf32: bool | None = NotProvided,
        compile_learner: bool | None = NotProvided,
        compile_acting: bool | None = NotProvided,
        variant: str | None = NotProvided,
        num_particles: int | None = NotProvided,
        sampler_euler_steps: int | None = NotProvided,
        train_flow_steps: int | None = NotProvided,
        step_size: float | None = NotProvided,
        alpha: float | None = NotProvided,
        particle_optimizer: str | None = NotProvided,
        score_twin_agg: str | None = NotProvided,
        kernel_bandwidth_gradient: bool | None = NotProvided,
        target_twin_agg: str | None = NotProvided,
        particle_agg: str | None = NotProvided,
        action_selection: str | None = NotProvided,
        selection_temperature: float | None = NotProvided,
        **kwargs,
    ) -> "VGFConfig":
        """Sets VGF's training settings; other kwargs go to RLlib's ``training``.

        Defaults: docs/algorithm.md, "Defaults"; per-suite values: docs/settings.md.

        Args:
            critic_hidden_layers: Hidden sizes of each twin critic (LayerNorm + ReLU).
            sampler_hidden_layers: Hidden sizes of the flow velocity field.
            critic_lr: Adam learning rate of the twin critics.
            sampler_lr: Adam learning rate of the flow sampler.
            tau: Polyak rate for the target critics, applied at every gradient step.
            target_update: "post-step" (Polyak from the critics after the step's optimizer
                step) or "pre-step" (from the critics before it, as the authors' code).
            updates_per_iteration: Gradient steps per ``train()`` call.
            precision: "fp32", or "bf16": the learner's forward passes (sampler, critics,
                transport, target) run under bf16 autocast on its device, weights, optimizer
                states and losses stay fp32 (docs/algorithm.md, "Precision").
            allow_tf32: TF32 tensor-core matmuls on a CUDA learner (no effect on CPU).
            compile_learner: The losses of each gradient step (next-state sampling, transport,
                target, TD and flow-matching forwards, and their backward) run as one
                ``torch.compile``d graph; False: eager PyTorch, for debugging
                (docs/algorithm.md, "Compiled update step").
            compile_acting: The module's acting (evaluations, EnvRunners) runs under
                ``torch.compile``: 2x faster per call for 4x512 networks on 2 CPU cores, after
                a compilation of 20-40 s per acting budget; off by default since short
                evaluations do not repay it (docs/algorithm.md, "Compiled acting").
            variant: "vgf" (SVGD kernel direction on grad_a Q) or "a-vgf" (a learned gradient
                network f(s, a) as the direction, gradient clipping at 1.0; alpha unused).
            num_particles: N, particles per state (training and, by default, acting).
            sampler_euler_steps: K, Euler steps of the flow sampler.
            train_flow_steps: L_train, transport steps when building the TD target.
            step_size: eps, the particle step size.
            alpha: Temperature; alpha -> inf leaves pure repulsion.
            particle_optimizer: "adam" (fresh Adam per call, authors' code) or "sgd".
            score_twin_agg: "mean" or "min" of the online twins inside grad_a Qbar.
            kernel_bandwidth_gradient: VGF only: the repulsion also differentiates the kernel
                sum through the median bandwidth, as the authors' autodiff (an extra pull on
                the particles that define the median); False holds the bandwidth constant.
            target_twin_agg: "min" or "mean" of the target twins (and of selection scores).
            particle_agg: "mean" or "max" over next-state particle values.
            action_selection: "argmax", "softmax" or "random" among final particles.
            selection_temperature: Temperature of "softmax" selection.

        Returns:
            This updated VGFConfig.
        """
        super().training(**kwargs)
        return self._set_provided(locals())

    def offline_dataset(
        self,
        *,
        dataset: Any = NotProvided,
        dataset_dir: str | None = NotProvided,
        rescale_actions: bool | None = NotProvided,
        normalize_observations: bool | None = NotProvided,
        shard_dataset_across_learners: bool | None = NotProvided,
    ) -> "VGFConfig":
        """Sets the dataset VGF trains on (docs/algorithm.md, "Data"; docs/data.md).

        Args:
            dataset: A dict of arrays, a file path (.npz, .parquet, Minari dataset dir),
                "ogbench:<dataset-name>" or "minari:<dataset-id>".
            dataset_dir: Directory where suite loaders look for dataset files.
            rescale_actions: Map dataset actions from the env's bounds into [-1, 1].
            normalize_observations: Z-score observations with dataset statistics; the
                statistics are stored in the module and applied when acting.
            shard_dataset_across_learners: With ``num_learners`` = k > 1, each learner holds a
                disjoint seeded shard of about 1/k of the rows and samples i.i.d. within it
                (effective batch k x ``train_batch_size_per_learner``); False: every learner
                holds every row (docs/algorithm.md, "Learners and data parallelism").

        Returns:
            This updated VGFConfig.
        """
        return self._set_provided(locals())

    def test_time(
        self,
        *,
        test_flow_steps: Sequence[int | str] | None = NotProvided,
        max_test_flow_steps: int | None = NotProvided,
        inference_flow_steps: int | None = NotProvided,
        eval_interval: int | None = NotProvided,
        eval_episodes: int | None = NotProvided,
        eval_num_particles: int | None = NotProvided,
        eval_step_size: float | None = NotProvided,
        success_timing: str | None = NotProvided,
    ) -> "VGFConfig":
        """Sets how VGF acts and is evaluated; none of it needs retraining.

        See docs/algorithm.md, "Acting and the test-time budget".

        Args:
            test_flow_steps: The L_test budgets every evaluation scores (0 = best-of-N;
                "auto": per state, transport while a step's value gain exceeds the twin critics'
                disagreement; docs/algorithm.md, "Adaptive test-time budget").
            max_test_flow_steps: The most transport steps the "auto" budget takes.
            inference_flow_steps: L of the module's own acting (``forward_inference``,
                ``load_policy``; None: L_train); collecting EnvRunners use
                ``online_flow_steps``.
            eval_interval: Evaluate every this many ``train()`` calls (0: never).
            eval_episodes: Episodes per L_test in each evaluation.
            eval_num_particles: N at test time (None: num_particles).
            eval_step_size: eps at test time (None: step_size).
            success_timing: OGBench eval envs only: judge success on the state before
                ("pre", ogbench >= 1.2's default) or after ("post", ogbench 1.1.0 as used
                by the paper's authors) each step; None keeps ogbench's default.

        Returns:
            This updated VGFConfig.
        """
        return self._set_provided(locals())

    def online(
        self,
        *,
        online_env_steps: int | None = NotProvided,
        offline_updates: int | None = NotProvided,
        online_steps_per_iteration: int | None = NotProvided,
        online_sync_steps: int | None = NotProvided,
        online_warmup_steps: int | None = NotProvided,
        updates_per_env_step: float | None = NotProvided,
        buffer_capacity: int | None = NotProvided,
        online_flow_steps: int | None = NotProvided,
    ) -> "VGFConfig":
        """Sets offline-to-online fine-tuning (docs/algorithm.md, "Offline-to-online
        fine-tuning"); the number of EnvRunners is RLlib's ``env_runners(num_env_runners=)``.

        Args:
            online_env_steps: Env steps to collect in total (0: offline only).
            offline_updates: Gradient steps on the offline data before collection starts
                (0: from the first iteration, e.g. after restoring an offline checkpoint).
            online_steps_per_iteration: Env steps collected per ``train()`` call, split
                across the EnvRunners.
            online_sync_steps: Env steps collected between updates and weight syncs within
                one ``train()`` call (None: the whole call collects, then updates). The paper
                files collect 100k env steps per call (one evaluation) in chunks of 1000.
            online_warmup_steps: Online env steps collected before gradient updates resume
                (the authors: 5000).
            updates_per_env_step: Gradient steps per collected env step after the warm-up.
            buffer_capacity: Transitions the learner-resident ring holds (None: the dataset
                plus ``online_env_steps``, so nothing is overwritten); must exceed the
                dataset size.
            online_flow_steps: Transport steps L when EnvRunners act (0: best-of-N, as the
                authors).

        Returns:
            This updated VGFConfig.
        """
        return self._set_provided(locals())

    def _set_provided(self, arguments: dict[str, Any]) -> "VGFConfig":
        """Set every setter argument the caller provided (lists and tuples as fresh lists)."""
        for name, value in arguments.items():
            if name not in ("self", "kwargs", "__class__") and value is not NotProvided:
                setattr(self, name, list(value) if isinstance(value, (list, tuple)) else value)
        return self

    def field_names(self) -> list[str]:
        """The settable config fields: public non-callable attributes and properties with a
        setter (such as ``train_batch_size_per_learner``); methods are not fields."""
        attributes = {
            name for name, value in vars(self).items()
            if not name.startswith("_") and not callable(value)
        }
        settable = {
            name for name, value in vars(AlgorithmConfig).items()
            if isinstance(value, property) and value.fset is not None and not name.startswith("_")
        }
        return sorted(attributes | settable)

    def apply_overrides(self, overrides: dict[str, Any]) -> "VGFConfig":
        """Set fields by name (CLI ``--set key=value``); a name that is not a config field
        (a typo, or a method such as ``validate``) raises an error with the closest fields."""
        fields = self.field_names()
        unknown = sorted(name for name in overrides if name not in fields)
        if unknown:
            hints = [
                f"{name!r} (did you mean {', '.join(map(repr, close))}?)"
                if (close := suggestions(name, fields))
                else repr(name)
                for name in unknown
            ]
            raise ValueError(
                f"unknown VGF config field(s) {', '.join(hints)}; see `vgf-rllib train --help` "
                "or VGFConfig's docstrings for the field names"
            )
        self.update_from_dict(dict(overrides))
        return self

    def get_default_learner_class(self) -> type:
        return VGFTorchLearner

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        return RLModuleSpec(module_class=VGFTorchRLModule)

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        fields = {name: getattr(self, name) for name in MODULE_FIELDS}
        fields["inference_flow_steps"] = self.resolved_inference_flow_steps
        return super()._model_config_auto_includes | fields

    @property
    def resolved_inference_flow_steps(self) -> int:
        """L of the module's own acting: ``inference_flow_steps`` or L_train."""
        if self.inference_flow_steps is None:
            return self.train_flow_steps
        return self.inference_flow_steps

    def validate(self) -> None:
        """Rejects impossible VGF settings with a message naming the field and value (VGF's
        own checks first, so RLlib's never meet a value of the wrong type)."""
        if self.framework_str != "torch":
            self._value_error(f"VGF supports framework='torch' only, got {self.framework_str!r}")
        if self.lr is not None:
            self._value_error(
                f"VGF uses critic_lr and sampler_lr; `lr` must be None, got {self.lr}"
            )
        for name, minimum in INT_FIELD_MINIMUMS.items():
            if name not in OPTIONAL_INT_FIELDS or getattr(self, name) is not None:
                self._check_int(name, minimum=minimum)
        self._check_choice("variant", list(VARIANTS))
        for name in ("step_size", "alpha", "critic_lr", "sampler_lr", "selection_temperature"):
            self._check_positive(name)
        if self.eval_step_size is not None:
            self._check_positive("eval_step_size")
        if not _is_number(self.tau) or not 0.0 < self.tau <= 1.0:
            self._value_error(f"tau must be a number in (0, 1], got {self.tau!r}")
        if not _is_number(self.gamma) or not 0.0 <= self.gamma <= 1.0:
            self._value_error(f"gamma must be a number in [0, 1], got {self.gamma!r}")
        self._check_choice("precision", PRECISIONS)
        for name in ("normalize_observations", "shard_dataset_across_learners", "rescale_actions", "allow_tf32", "compile_learner",
                     "compile_acting", "kernel_bandwidth_gradient"):
            if not isinstance(getattr(self, name), bool):
                self._value_error(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            self._value_error(f"seed must be an int or null, got {self.seed!r}")
        if not _is_number(self.num_gpus_per_learner) or self.num_gpus_per_learner < 0:
            self._value_error(f"num_gpus_per_learner must be a number >= 0, got {self.num_gpus_per_learner!r}")
        self._check_choice("particle_optimizer", PARTICLE_OPTIMIZERS)
        self._check_choice("score_twin_agg", TWIN_AGGREGATIONS)
        if self.kernel_bandwidth_gradient and VARIANTS[self.variant].learned_field:
            self._value_error(
                f"kernel_bandwidth_gradient applies to variant='vgf' only (variant "
                f"{self.variant!r} moves particles without a kernel)"
            )
        self._check_choice("target_update", TARGET_UPDATES)
        self._check_choice("target_twin_agg", TWIN_AGGREGATIONS)
        self._check_choice("particle_agg", PARTICLE_AGGREGATIONS)
        self._check_choice("action_selection", ACTION_SELECTIONS)
        for name in ("critic_hidden_layers", "sampler_hidden_layers"):
            layers = getattr(self, name)
            if not _is_int_list(layers, minimum=1):
                self._value_error(f"{name} must be a non-empty list of positive ints, got {layers}")
        steps = self.test_flow_steps
        if not (
            isinstance(steps, (list, tuple))
            and steps
            and all(s == AUTO or _is_int_list([s], minimum=0) for s in steps)
        ):
            self._value_error(
                f"test_flow_steps must be a non-empty list of ints >= 0 or '{AUTO}', got {steps}"
            )
        if self.dataset is None and not self.uses_rllib_input:
            self._value_error(
                "VGF needs data: config.offline_data(input_=<path | URI | list | "
                "ray.data.Dataset>) for RLlib recordings and anything Ray Data reads, or "
                "config.offline_dataset(dataset=<.npz/.parquet path | 'ogbench:<name>' | "
                "'minari:<id>' | dict of arrays>)"
            )
        if self.dataset is not None and self.uses_rllib_input:
            self._value_error(
                f"VGF reads one data source; both offline_data(input_={self.input_!r}) and "
                f"offline_dataset(dataset={self.dataset!r}) are set: unset one"
            )
        if self.uses_rllib_input and self.rescale_actions:
            self._value_error(
                "rescale_actions applies to offline_dataset(dataset=...); RLlib input is mapped "
                "from the env's bounds already (actions_in_input_normalized=True: it is not)"
            )
        if self.success_timing is not None:
            self._check_choice("success_timing", SUCCESS_TIMINGS)
            if self.env and not str(self.env).startswith(OGBENCH_PREFIX):
                self._value_error(
                    f"success_timing applies to OGBench envs only, not to env {self.env!r}"
                )
        self._check_positive("updates_per_env_step")
        if self.eval_interval and not self.env:
            self._value_error(
                "eval_interval > 0 needs an evaluation env: config.environment(env=...)"
            )
        self._check_rllib_settings_without_effect()
        super().validate()

    def _check_rllib_settings_without_effect(self) -> None:
        """Refuse RLlib settings that an offline VGF run would otherwise ignore silently
        (docs/algorithm.md, "Evaluation on EnvRunners")."""
        if self.evaluation_interval:
            self._value_error(
                f"evaluation_interval={self.evaluation_interval!r} would run RLlib's own "
                "evaluation beside VGF's: set eval_interval (test_time(eval_interval=...)), "
                "which scores every L_test on the same episodes"
            )
        if self.evaluation_duration != AlgorithmConfig().evaluation_duration:
            self._value_error(
                f"evaluation_duration={self.evaluation_duration!r} has no effect on VGF's "
                "evaluation: set eval_episodes (test_time(eval_episodes=...)), the episodes "
                "per L_test"
            )
        if self.num_env_runners and not self.is_online and not self.in_evaluation:
            self._value_error(
                f"num_env_runners={self.num_env_runners!r} has no effect on an offline-only "
                "run (online_env_steps=0: EnvRunners only collect for offline-to-online); to "
                "spread evaluations over EnvRunners set evaluation_num_env_runners instead"
            )

    def _value_error(self, errmsg: str) -> None:
        """RLlib's, without its second line about suppressing validation: CLI errors stay
        one line, and VGF's checks are not meant to be switched off."""
        raise ValueError(errmsg)

    def _check_int(self, name: str, *, minimum: int) -> None:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self._value_error(f"{name} must be an int >= {minimum}, got {value!r}")

    def _check_positive(self, name: str) -> None:
        value = getattr(self, name)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not 0 < value < math.inf
        ):
            self._value_error(f"{name} must be a finite number > 0, got {value!r}")

    def _check_choice(self, name: str, choices: Sequence[str]) -> None:
        value = getattr(self, name)
        if value not in choices:
            self._value_error(f"{name} must be one of {list(choices)}, got {value!r}")


EVAL_RESULTS = "vgf_eval"
#: result key: online env steps collected so far (counted by the learner-resident buffer)
ONLINE_ENV_STEPS = "num_online_env_steps_lifetime"


def check_learner_resources(config: VGFConfig, *, action_dim: int) -> None:
    """Before any learner is built: a requested GPU exists (local learner) and the particle
    transport's N x N tensors fit in the learner's memory (docs/runs.md, "Guards")."""
    wants_gpu = config.num_gpus_per_learner > 0
    if wants_gpu and config.num_learners == 0 and not torch.cuda.is_available():
        raise ValueError(
            f"num_gpus_per_learner={config.num_gpus_per_learner} but torch sees no CUDA GPU on "
            "this machine; set num_gpus_per_learner=0 to train on the CPU"
        )
    if wants_gpu and torch.cuda.is_available():
        available, where = torch.cuda.get_device_properties(0).total_memory, "GPU memory"
    else:
        available, where = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "RAM"
    needed = transport_peak_bytes(
        config.train_batch_size_per_learner, config.num_particles, action_dim
    )
    if needed > available:
        raise ValueError(
            f"num_particles={config.num_particles}: the particle transport needs about "
            f"{needed / 2**30:.1f} GiB for a batch of {config.train_batch_size_per_learner} "
            f"states (it grows with num_particles^2), more than the {available / 2**30:.1f} GiB "
            f"of {where}"
        )


class VGF(Algorithm):
    """Value Gradient Flow (Xu, Hu, Sojoudi, Zhang, ICLR 2026) on RLlib's new API stack."""

    @classmethod
    def get_default_config(cls) -> VGFConfig:
        return VGFConfig()

    def setup(self, config: Any, shared_data: Mapping[str, Any] | None = None) -> None:
        """Resolve the data (loaded here, or from ``shared_data``: a sweep driver's
        :func:`~vgf_rllib.algorithm.data_setup.share_data`), build the learners and give each
        its rows (remote learners take them from Ray's object store)."""
        prepared = self.config.copy(copy_frozen=False)
        data, data_ref = prepare_data(prepared, shared_data)
        dataset = data.dataset
        if data.env and not prepared.env:
            prepared.environment(data.env)
        prepared.environment(observation_space=data.observation_space, action_space=data.action_space)
        check_learner_resources(prepared, action_dim=dataset.action_dim)
        capacity = self._buffer_capacity(prepared, len(dataset))
        if prepared.is_online and not prepared.env:
            raise ValueError(
                f"online_env_steps={prepared.online_env_steps} needs an env to collect in: "
                "config.environment(env=...) (suite datasets name their own)"
            )
        if prepared.evaluation_num_env_runners and not prepared.env:
            raise ValueError(
                f"evaluation_num_env_runners={prepared.evaluation_num_env_runners} needs an env "
                "to evaluate in: config.environment(env=...) (suite datasets name their own)"
            )
        if prepared.is_online or prepared.evaluation_num_env_runners:
            register_runner_env(prepared)
        prepared.freeze()
        self.config = prepared
        self._dataset_metadata = dict(dataset.metadata)
        super().setup(prepared)
        self.dataset_size = len(dataset)
        self.dataset_fingerprint = data.fingerprint
        stats = observation_statistics(dataset) if prepared.normalize_observations else (None, None)
        if self.learner_group.is_local:
            source = dataset.as_dict()
        else:  # remote learners take one object-store copy by reference
            source = data_ref if data_ref is not None else ray.put(data)
        self.rows_per_learner = self._on_every_learner(
            lambda learner: learner.load_resident_dataset(source, *stats, capacity=capacity)
        )
        self._sync_env_runner_weights()  # the observation statistics

    @staticmethod
    def _buffer_capacity(config: VGFConfig, dataset_size: int) -> int | None:
        """Rows of the learner-resident buffer: the dataset alone when offline only."""
        if not config.is_online:
            return None
        if config.buffer_capacity is None:
            return dataset_size + config.online_env_steps
        if config.buffer_capacity <= dataset_size:
            raise ValueError(
                f"buffer_capacity must exceed the offline dataset's {dataset_size} transitions "
                f"so that online transitions fit, got {config.buffer_capacity}"
            )
        return config.buffer_capacity

    def training_step(self) -> None:
        """One iteration: ``updates_per_iteration`` i.i.d. gradient steps in every learner, or,
        in the online phase, collect env steps, append them and update per collected step.

        One step: docs/algorithm.md, "Critic target"; phases: "Offline-to-online fine-tuning".
        """
        num_updates, collected = self._learner_progress()
        config = self.config
        collecting = collected < config.online_env_steps and num_updates >= config.offline_updates
        if config.is_online and collecting:
            self._online_training_step(collected)
        else:
            self._update_learners(config.updates_per_iteration)
        self._sync_env_runner_weights()

    def _online_training_step(self, collected: int) -> None:
        """Collect up to ``online_steps_per_iteration`` env steps in chunks of
        ``online_sync_steps``: each chunk is appended to every learner's buffer, followed by
        the gradient steps it is owed and a weight sync to the EnvRunners."""
        config = self.config
        wanted = min(config.online_steps_per_iteration, config.online_env_steps - collected)
        chunk = config.online_sync_steps or wanted
        schedule = partial(
            updates_due,
            warmup_steps=config.online_warmup_steps,
            updates_per_env_step=config.updates_per_env_step,
        )
        while wanted > 0:
            transitions, runner_metrics = self._collect_transitions(min(chunk, wanted))
            self.metrics.aggregate(runner_metrics, key=ENV_RUNNER_RESULTS)
            transitions["rewards"] = online_rewards(transitions["rewards"], self._dataset_metadata)
            total = self._on_every_learner(
                lambda learner: learner.append_transitions(transitions)
            )[0]
            if total <= collected:
                raise RuntimeError("the EnvRunners returned no transitions to append")
            updates = schedule(total) - schedule(collected)
            if updates:
                self._update_learners(updates)
            wanted -= total - collected
            collected = total
            if wanted > 0:
                self._sync_env_runner_weights()

    def _collect_transitions(self, num_steps: int) -> tuple[dict[str, np.ndarray], list[Any]]:
        """``num_steps`` env steps split across the remote EnvRunners (the local one when
        there are none); returns the concatenated transitions and each runner's metrics."""
        group = self.env_runner_group
        if group.num_remote_env_runners() == 0:
            runner = group.local_env_runner
            return runner.sample_transitions(num_steps), [runner.get_metrics()]
        ids = group.healthy_worker_ids()
        if not ids:
            raise RuntimeError("no healthy EnvRunner is left to collect online transitions")
        shares = [num_steps // len(ids) + (i < num_steps % len(ids)) for i in range(len(ids))]
        ids, shares = zip(*[(i, n) for i, n in zip(ids, shares) if n > 0])
        outputs = group.foreach_env_runner(
            [partial(_sample_share, num_steps=n) for n in shares],
            local_env_runner=False,
            remote_worker_ids=list(ids),
        )
        transitions = {
            name: np.concatenate([out[0][name] for out in outputs]) for name in outputs[0][0]
        }
        return transitions, [out[1] for out in outputs]

    def _update_learners(self, num_updates: int) -> None:
        learner_results = self._on_every_learner(
            lambda learner: learner.train_on_resident_data(num_updates)
        )
        self.metrics.aggregate(learner_results, key=LEARNER_RESULTS)

    def _learner_progress(self) -> tuple[int, int]:
        """(gradient steps, online transitions appended) of the first learner."""
        return self._on_every_learner(
            lambda learner: (learner.num_updates, learner.num_online_transitions)
        )[0]

    def _sync_env_runner_weights(self) -> None:
        """Give every EnvRunner the learner's latest weights (online configs only)."""
        if self.env_runner_group is not None:
            self.env_runner_group.sync_weights(
                from_worker_or_learner_group=self.learner_group, inference_only=True
            )

    def _on_every_learner(self, fn: Any) -> list[Any]:
        """Run ``fn(learner)`` on every learner; re-raise the first learner error."""
        return [call.get() for call in self.learner_group.foreach_learner(fn)]

    def step(self) -> ResultDict:
        results = super().step()
        results[NUM_UPDATES_LIFETIME], online_steps = self._learner_progress()
        if self.config.is_online:
            results[ONLINE_ENV_STEPS] = online_steps
        interval = self.config.eval_interval
        if interval and (self.iteration + 1) % interval == 0:
            results[EVAL_RESULTS] = self.evaluate_test_time_budgets()
        return results

    def get_policy_module(self) -> Any:
        """A CPU copy of the trained module (weights from the first learner)."""
        module = self.config.get_rl_module_spec(inference_only=True).build()
        module.set_state(self._acting_state()[DEFAULT_MODULE_ID])
        return module

    def _acting_state(self) -> dict[str, Any]:
        """The first learner's inference-only module state (no target critics), by module id."""
        state = self.learner_group.get_state(
            components=f"{COMPONENT_LEARNER}/{COMPONENT_RL_MODULE}", inference_only=True
        )
        return state[COMPONENT_LEARNER][COMPONENT_RL_MODULE]

    def _acting_device(self) -> torch.device:
        """The local learner's device, else the CPU (remote learners' GPUs are not the driver's)."""
        learner = self.learner_group._learner if self.learner_group.is_local else None
        return learner._device if learner is not None else torch.device("cpu")

    def evaluate_test_time_budgets(
        self,
        test_flow_steps: list[int] | None = None,
        episodes: int | None = None,
        *,
        show_progress: bool = False,
    ) -> dict[str, Any]:
        """Score the current weights at every L_test without retraining, on the same seeded
        episodes: on the evaluation EnvRunners where ``evaluation_num_env_runners`` > 0, else
        in this process on the local learner's device (a GPU learner acts on its GPU; remote
        learners: the driver's CPU).

        See docs/algorithm.md, "Acting and the test-time budget" and "Evaluation on EnvRunners".
        """
        config = self.config
        budgets = test_flow_steps or config.test_flow_steps
        count = episodes or config.eval_episodes
        settings = dict(
            num_particles=config.eval_num_particles,
            step_size=config.eval_step_size,
            seed=evaluation_seed(config.seed),
            success_timing=config.success_timing,
        )
        if not config.evaluation_num_env_runners:
            module = self.get_policy_module().to(self._acting_device())
            results = evaluate_budgets(
                module, config.env, budgets, count, show_progress=show_progress, **settings
            )
            return results_by_budget(results)
        total = count * len(budgets)
        with tqdm(total=total, desc="evaluate", unit="ep", disable=not show_progress) as progress:
            shares = play_on_env_runners(
                self.eval_env_runner_group, self._acting_state(), config.env, budgets, count,
                progress=progress, **settings,
            )
        return results_by_budget(summarize_budgets(config.env, shares))

    def restore_from_path(self, path: Any, *args, **kwargs) -> None:
        """Restore learner state (weights, optimizers, RNG, the buffer's online rows), then
        give the EnvRunners (online configs only) the restored weights."""
        Checkpointable.restore_from_path(self, path, *args, **kwargs)
        self._sync_env_runner_weights()


def _sample_share(runner: VGFEnvRunner, *, num_steps: int) -> tuple[dict[str, np.ndarray], Any]:
    """Run on one EnvRunner: its share of an iteration's env steps and its metrics."""
    return runner.sample_transitions(num_steps), runner.get_metrics()


def register_runner_env(config: VGFConfig) -> None:
    """Register ``config.env`` (any spec :func:`vgf_rllib.envs.make_env` takes, such as
    ``ogbench:...``) with Tune so that RLlib's EnvRunners (collecting or evaluating) build it."""
    spec = config.env
    kwargs = success_timing_kwargs(spec, config.success_timing)
    register_env(spec, lambda _context: make_env(spec, **kwargs))
