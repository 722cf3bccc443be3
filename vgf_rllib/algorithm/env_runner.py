"""VGFEnvRunner: RLlib's single-agent EnvRunner acting with VGF's online-collection budget,
returning flat transitions for the learner-resident buffer; as an evaluation EnvRunner it plays
its share of an evaluation's episodes at every L_test.

See docs/algorithm.md, "Offline-to-online fine-tuning": EnvRunners act with best-of-N
(``online_flow_steps`` transport steps, 0 by default as in the authors' code), without added
noise, on the weights the learner last synchronized. ``mask`` is 0 only on a true
termination (a time-limit truncation still bootstraps). Evaluation: docs/algorithm.md,
"Evaluation on EnvRunners".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from ray.rllib.core import COMPONENT_RL_MODULE
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

from vgf_rllib.algorithm.learner import TRAIN_FIELDS
from vgf_rllib.evaluation import PlayedEpisodes, play_budgets


def episodes_to_transitions(episodes: Sequence[Any]) -> dict[str, np.ndarray]:
    """Flat ``(s, a, r, s', mask)`` arrays from RLlib episode chunks.

    Actions are the module's, in [-1, 1] (what the dataset stores), not the env-scaled ones.
    """
    parts: dict[str, list[np.ndarray]] = {name: [] for name in TRAIN_FIELDS}
    for episode in episodes:
        length = len(episode)
        if length == 0:
            continue
        observations = np.asarray(episode.get_observations(), np.float32).reshape(length + 1, -1)
        masks = np.ones(length, np.float32)
        if episode.is_terminated:
            masks[-1] = 0.0
        parts["observations"].append(observations[:-1])
        parts["next_observations"].append(observations[1:])
        parts["actions"].append(np.asarray(episode.get_actions(), np.float32).reshape(length, -1))
        parts["rewards"].append(np.asarray(episode.get_rewards(), np.float32).reshape(length))
        parts["masks"].append(masks)
    if not parts["masks"]:
        raise ValueError("no transitions: every sampled episode chunk was empty")
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


class VGFEnvRunner(SingleAgentEnvRunner):
    """A SingleAgentEnvRunner whose module acts with ``config.online_flow_steps``."""

    def make_module(self) -> None:
        super().make_module()
        if self.module is not None:
            self.module.set_test_time_budget(flow_steps=self.config.online_flow_steps)

    def sample_transitions(self, num_timesteps: int) -> dict[str, np.ndarray]:
        """Step the envs ``num_timesteps`` times (episodes continue across calls) and return the
        new transitions; RLlib's episode metrics are kept for ``get_metrics()``."""
        episodes = self.sample(num_timesteps=num_timesteps, explore=False)
        return episodes_to_transitions(episodes)

    def play_evaluation_episodes(
        self,
        module_state: Any,
        env_spec: str,
        test_flow_steps: Sequence[int | str],
        episodes: Sequence[int],
        **settings: Any,
    ) -> list[PlayedEpisodes]:
        """Take the learner's weights ``module_state`` (sent with this call, so a runner
        restarted since the last evaluation cannot act with stale ones), then play the episode
        indices ``episodes`` at every budget with :func:`~vgf_rllib.evaluation.play_budgets`
        (``settings``: its keyword arguments)."""
        self.set_state({COMPONENT_RL_MODULE: module_state})
        return play_budgets(self.module, env_spec, test_flow_steps, episodes, **settings)
