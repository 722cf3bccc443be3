"""An evaluation spread over RLlib's evaluation EnvRunners (``evaluation(
evaluation_num_env_runners=k)``), built once by RLlib's ``Algorithm.setup`` as
``eval_env_runner_group`` with VGF's EnvRunner class.

Each evaluation splits its episode indices over the healthy runners; each runner takes the
learner's weights (sent with the call) and plays its share at every budget
(:meth:`~vgf_rllib.algorithm.env_runner.VGFEnvRunner.play_evaluation_episodes`); the driver
merges the shares in episode order (:func:`~vgf_rllib.evaluation.summarize_budgets`). A runner
lost mid-evaluation is taken out of service by RLlib's actor manager and restarted by Ray
(``fault_tolerance(restart_failed_env_runners=True)``, RLlib's default); its episodes are played
again in the next round on the runners then healthy. See docs/algorithm.md, "Evaluation on
EnvRunners".
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import ray
from ray.rllib.env.env_runner_group import EnvRunnerGroup
from tqdm.auto import tqdm

from vgf_rllib.algorithm.env_runner import VGFEnvRunner
from vgf_rllib.evaluation import PlayedEpisodes

#: rounds an evaluation gets: each round plays again the episodes of runners that failed in the
#: one before (an error that recurs, not a lost runner, ends the evaluation after the last)
MAX_EVALUATION_ROUNDS = 3


def play_on_env_runners(
    group: EnvRunnerGroup,
    module_state: Any,
    env_spec: str,
    test_flow_steps: Sequence[int | str],
    episodes: int,
    *,
    progress: tqdm | None = None,
    **settings: Any,
) -> list[list[PlayedEpisodes]]:
    """Episodes 0, ..., ``episodes`` - 1 at every budget, split over ``group``'s remote
    EnvRunners acting with ``module_state`` (the learner's inference-only module state);
    returns each share's :func:`~vgf_rllib.evaluation.play_budgets` output, which together hold
    every episode once. ``settings``: ``play_budgets``' keyword arguments."""
    state_ref = ray.put(module_state)
    pending = list(range(episodes))
    shares: list[list[PlayedEpisodes]] = []
    for _ in range(MAX_EVALUATION_ROUNDS):
        group.probe_unhealthy_env_runners()  # runners Ray restarted come back into service
        ids = group.healthy_env_runner_ids()
        if not ids:
            raise RuntimeError(
                f"no healthy evaluation EnvRunner is left to play evaluation episodes {pending}"
            )
        splits = np.array_split(pending, min(len(ids), len(pending)))
        played = group.foreach_env_runner(
            [
                partial(
                    VGFEnvRunner.play_evaluation_episodes,
                    module_state=state_ref, env_spec=env_spec, test_flow_steps=test_flow_steps,
                    episodes=split.tolist(), **settings,
                )
                for split in splits
            ],
            local_env_runner=False,
            remote_worker_ids=ids[: len(splits)],
        )
        shares.extend(played)  # a failed runner's share is missing (its error is logged)
        done = {episode for share in played for episode in share[0].episodes}
        if progress is not None:
            progress.update(len(done) * len(test_flow_steps))
        pending = [episode for episode in pending if episode not in done]
        if not pending:
            return shares
    raise RuntimeError(
        f"evaluation episodes {pending} failed on the evaluation EnvRunners in each of "
        f"{MAX_EVALUATION_ROUNDS} rounds; the EnvRunners' errors are logged above"
    )
