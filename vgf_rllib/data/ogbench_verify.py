"""Check an OGBench dataset file against the environment's own success signal (docs/data.md).

The file is loaded through the single-task loader; on sampled rows the simulator is put into
the recorded state (``qpos``, ``qvel``, button states) and the single-task env's own reward and
success predicates are compared with the relabelled ``rewards`` and ``masks``. The recorded state
must also belong to the recorded observation (its leading entries copy ``qpos``: the agent's x-y
in the mazes, the arm's joint angles in manipulation).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vgf_rllib.data.dataset import DatasetError
from vgf_rllib.data.ogbench_catalog import OGBenchName, dataset_files, parse_dataset_name
from vgf_rllib.data.ogbench_data import read_ogbench, transitions

MAX_LISTED = 5
MAZE_FAMILIES = ("pointmaze", "antmaze", "humanoidmaze", "antsoccer")
#: family kind -> how many leading observation entries equal the leading qpos entries
QPOS_PREFIX = {"maze": 2, "manipulation": 6}


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify` checked: row counts, successes in the data, rows compared to the env."""

    name: str
    transitions: int
    trajectories: int
    task_completions: int
    checked_rows: int
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.name}: {self.transitions} transitions in {self.trajectories} trajectories, "
            f"{self.task_completions} task-complete rows (mask 0); reward/mask relabelling matches "
            f"the env on {self.checked_rows} sampled rows"
        )


def _env_signal(
    env: Any, parsed: OGBenchName, row: int, data: dict[str, np.ndarray]
) -> tuple[float, bool]:
    """The single-task env's own (reward, success) in the state recorded at ``row``."""
    sim = env.unwrapped
    qpos, qvel = data["qpos"][row].astype(np.float64), data["qvel"][row].astype(np.float64)
    if parsed.family in MAZE_FAMILIES:
        sim.set_state(qpos, qvel)
        success = bool(sim.compute_success())
        return float(success) - 1.0, success
    if "button_states" in data:
        sim.set_state(qpos, qvel, data["button_states"][row].copy())
    else:
        sim.set_state(qpos, qvel)
    reward = float(sim.compute_reward())  # sum(sub-task successes) - count: 0 iff all succeed
    return reward, reward == 0.0


def _sample_rows(masks: np.ndarray, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``samples`` rows: half from task-complete rows (if any), the rest uniform."""
    complete = np.flatnonzero(masks == 0)
    picks = [rng.choice(complete, size=min(len(complete), samples // 2), replace=False)]
    rest = samples - len(picks[0])
    picks.append(rng.choice(len(masks), size=min(len(masks), rest), replace=False))
    return np.unique(np.concatenate(picks))


def verify(
    name: str,
    *,
    dataset_dir: str | os.PathLike | None = None,
    samples: int = 256,
    seed: int = 0,
) -> VerifyReport:
    """Verify the training file of ``name`` (dataset or single-task name; default task if none).

    Raises :class:`DatasetError` listing the first mismatching rows; returns the report if clean.
    """
    parsed = parse_dataset_name(name)
    env, train, _ = read_ogbench(parsed, dataset_dir, add_info=True)
    try:
        dataset = transitions(
            parsed, env, train, split="train", file=dataset_files(parsed.dataset, dataset_dir)[0]
        )
        problems = []
        prefix = QPOS_PREFIX["maze" if parsed.family in MAZE_FAMILIES else "manipulation"]
        rows = _sample_rows(dataset.masks, samples, np.random.default_rng(seed))
        for row in rows:
            if not np.allclose(
                dataset.observations[row, :prefix], train["qpos"][row, :prefix], atol=1e-5
            ):
                problems.append(f"row {row}: the recorded qpos does not belong to the observation")
            reward, success = _env_signal(env, parsed, int(row), train)
            if reward != dataset.rewards[row] or success != (dataset.masks[row] == 0):
                problems.append(
                    f"row {row}: env says reward {reward}, success {success}; dataset has reward "
                    f"{dataset.rewards[row]}, mask {dataset.masks[row]}"
                )
    finally:
        env.close()
    if problems:
        shown = "; ".join(problems[:MAX_LISTED])
        raise DatasetError(f"{dataset.source}: {len(problems)} check(s) failed: {shown}")
    return VerifyReport(
        name=parsed.singletask,
        transitions=len(dataset),
        trajectories=int(dataset.terminals.sum()),
        task_completions=int((dataset.masks == 0).sum()),
        checked_rows=len(rows),
    )
