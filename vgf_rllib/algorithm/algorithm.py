"""VGF(Algorithm): offline training loop, multi-budget evaluation and checkpoint restore.

Deviations from RLlib's offline algorithms, on purpose:
- ``setup`` loads the dataset once on the driver (spaces, observation statistics) and
  hands the arrays to every learner, which keeps them on its device.
- ``training_step`` runs ``updates_per_iteration`` gradient steps inside each learner.
- ``step`` adds ``vgf_eval`` (one record per L_test) on evaluation iterations.
- ``restore_from_path`` skips the EnvRunner sync. RLlib's own restore syncs weights to the
  ``env_runner_group``, which is None for an offline-only algorithm, so its
  ``from_checkpoint`` / ``restore_from_path`` (and with them Tune restore) crash, as they do
  for RLlib's own BC; with this override ``VGF.from_checkpoint`` and Tune restore work.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.utils.checkpoints import Checkpointable
from ray.rllib.utils.metrics import LEARNER_RESULTS
from ray.rllib.utils.typing import ResultDict

from vgf_rllib.algorithm.config import VGFConfig
from vgf_rllib.algorithm.learner import NUM_UPDATES_LIFETIME
from vgf_rllib.data import (
    OfflineDataset,
    check_against_spaces,
    load_dataset,
    observation_statistics,
)
from vgf_rllib.envs import make_env
from vgf_rllib.evaluation import evaluate_budgets, results_by_budget

EVAL_RESULTS = "vgf_eval"


def env_spaces(env_spec: str) -> tuple[gym.Space, gym.Space]:
    """Observation and action spaces of the evaluation env ``env_spec``."""
    env = make_env(env_spec)
    spaces = env.observation_space, env.action_space
    env.close()
    return spaces


def dataset_spaces(dataset: OfflineDataset) -> tuple[gym.Space, gym.Space]:
    """Spaces implied by the data alone: unbounded observations, actions in [-1, 1]."""
    obs_space = gym.spaces.Box(-np.inf, np.inf, (dataset.observation_dim,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (dataset.action_dim,), np.float32)
    return obs_space, action_space


class VGF(Algorithm):
    """Value Gradient Flow (Xu, Hu, Sojoudi, Zhang, ICLR 2026) on RLlib's new API stack."""

    @classmethod
    def get_default_config(cls) -> VGFConfig:
        return VGFConfig()

    def setup(self, config: Any) -> None:
        prepared = self.config.copy(copy_frozen=False)
        spaces = env_spaces(prepared.env) if prepared.env else None
        dataset = self._load_dataset(prepared, action_space=spaces[1] if spaces else None)
        if spaces is None and dataset.metadata.get("env_spec"):
            prepared.environment(dataset.metadata["env_spec"])  # the dataset's own env
            spaces = env_spaces(prepared.env)
        if spaces is None:
            spaces = dataset_spaces(dataset)
        else:
            check_against_spaces(dataset, *spaces)
        prepared.environment(observation_space=spaces[0], action_space=spaces[1])
        prepared.freeze()
        self.config = prepared
        super().setup(prepared)
        stats = observation_statistics(dataset) if prepared.normalize_observations else (None, None)
        arrays = dataset.as_dict()
        self._on_every_learner(lambda learner: learner.load_resident_dataset(arrays, *stats))

    @staticmethod
    def _load_dataset(config: VGFConfig, *, action_space: gym.Space | None) -> OfflineDataset:
        """Load ``config.dataset``; ``action_space`` (the eval env's) serves rescale_actions."""
        options: dict[str, Any] = {}
        if config.dataset_dir:
            options["dataset_dir"] = config.dataset_dir
        if config.rescale_actions:
            options.update(rescale_actions=True, action_space=action_space)
        return load_dataset(config.dataset, **options)

    def training_step(self) -> None:
        """``updates_per_iteration`` i.i.d. gradient steps in every learner.

        One step: docs/algorithm.md, "Critic target".
        """
        num_updates = self.config.updates_per_iteration
        learner_results = self._on_every_learner(
            lambda learner: learner.train_on_resident_data(num_updates)
        )
        self.metrics.aggregate(learner_results, key=LEARNER_RESULTS)

    def _on_every_learner(self, fn: Any) -> list[Any]:
        """Run ``fn(learner)`` on every learner; re-raise the first learner error."""
        return [call.get() for call in self.learner_group.foreach_learner(fn)]

    def step(self) -> ResultDict:
        results = super().step()
        results[NUM_UPDATES_LIFETIME] = results[LEARNER_RESULTS][NUM_UPDATES_LIFETIME]
        interval = self.config.eval_interval
        if interval and (self.iteration + 1) % interval == 0:
            results[EVAL_RESULTS] = self.evaluate_test_time_budgets()
        return results

    def get_policy_module(self) -> Any:
        """A CPU copy of the trained module (weights from the first learner)."""
        state = self.learner_group.get_state(components="learner/rl_module")
        module_state = state["learner"]["rl_module"][DEFAULT_MODULE_ID]
        module = self.config.get_rl_module_spec(inference_only=True).build()
        module.set_state(module_state)
        return module

    def evaluate_test_time_budgets(
        self,
        test_flow_steps: list[int] | None = None,
        episodes: int | None = None,
        *,
        show_progress: bool = False,
    ) -> dict[str, Any]:
        """Score the current weights at every L_test without retraining.

        See docs/algorithm.md, "Acting and the test-time budget".
        """
        results = evaluate_budgets(
            self.get_policy_module(),
            self.config.env,
            test_flow_steps or self.config.test_flow_steps,
            episodes or self.config.eval_episodes,
            num_particles=self.config.eval_num_particles,
            step_size=self.config.eval_step_size,
            seed=int(self.config.seed or 0) + 10_000,
            show_progress=show_progress,
            success_timing=self.config.success_timing,
        )
        return results_by_budget(results)

    def restore_from_path(self, path: Any, *args, **kwargs) -> None:
        """Restore learner state (weights, optimizers, RNG) without syncing EnvRunners."""
        Checkpointable.restore_from_path(self, path, *args, **kwargs)
