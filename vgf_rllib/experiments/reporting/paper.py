"""The paper's published VGF results: the one place in the package that holds them.

Source: H. Xu, K. Hu, S. Sojoudi, A. Zhang, "Reinforcement Learning via Value Gradient Flow",
ICLR 2026 (arXiv 2604.14265), as listed in ``docs/settings.md`` ("The paper's numbers in
reports"). Only rows seen in the paper are listed; a task or environment without one gets no
paper number, never a guess.

Two kinds of number, never to be mixed up:
- ``task``: one D4RL task's normalized score (``hopper-medium`` 97.9);
- ``environment``: an OGBench environment's success rate in %, averaged over its 5 tasks
  (``cube-double-play`` 70); beside it only an average over the same 5 tasks is comparable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

CITATION = (
    'H. Xu, K. Hu, S. Sojoudi, A. Zhang, "Reinforcement Learning via Value Gradient Flow", '
    "ICLR 2026 (arXiv 2604.14265)"
)
#: tasks per OGBench environment in the paper's averages
OGBENCH_TASKS_PER_ENVIRONMENT = 5

#: D4RL task (the paper's name, no version) -> VGF's normalized score
D4RL_TASKS: dict[str, float] = {
    "hopper-medium": 97.9,
    "walker2d-medium-replay": 97.8,
    "antmaze-umaze-diverse": 94.3,
    "antmaze-medium-play": 89.4,
    "antmaze-large-diverse": 83.8,
}
#: OGBench environment (``<env>-<dataset>``, as the suites group tasks) -> VGF's success rate in %,
#: averaged over the environment's 5 single-task variants
OGBENCH_ENVIRONMENTS: dict[str, float] = {
    "humanoidmaze-medium-navigate": 72.0,
    "cube-double-play": 70.0,
    "puzzle-3x3-play": 75.0,
    "puzzle-4x4-play": 45.0,
}

VERSION = re.compile(r"-v\d+$")


@dataclass(frozen=True)
class PaperResult:
    """One published VGF number and what it measures."""

    name: str  # the paper's row: a D4RL task or an OGBench environment
    value: float
    kind: Literal["task", "environment"]
    benchmark: Literal["D4RL", "OGBench"]

    @property
    def tasks(self) -> int:
        """How many tasks the number averages over."""
        return OGBENCH_TASKS_PER_ENVIRONMENT if self.kind == "environment" else 1

    @property
    def what(self) -> str:
        """``task score`` or ``average over the environment's 5 tasks``."""
        if self.kind == "task":
            return f"{self.benchmark} task score"
        return f"{self.benchmark} environment average over its {self.tasks} tasks"

    @property
    def label(self) -> str:
        """The number with its kind, e.g. ``97.9 (task)``, ``70 (env. avg of 5 tasks)``."""
        kind = "task" if self.kind == "task" else f"env. avg of {self.tasks} tasks"
        return f"{self.value:g} ({kind})"


def task_result(task: str, dataset: str) -> PaperResult | None:
    """The paper's number for one task (D4RL rows), matched on the task name without version.

    ``dataset`` is the trial's dataset spec; only Minari datasets (``minari:...``) can stand for
    D4RL tasks (whether the data is the paper's is :mod:`vgf_rllib.experiments.reporting.provenance`'s call).
    """
    if not str(dataset).startswith("minari:"):
        return None
    name = VERSION.sub("", task)
    if name in D4RL_TASKS:
        return PaperResult(name, D4RL_TASKS[name], "task", "D4RL")
    return None


def environment_result(group: str) -> PaperResult | None:
    """The paper's 5-task average for an OGBench environment group (``cube-double-play``)."""
    if group in OGBENCH_ENVIRONMENTS:
        return PaperResult(group, OGBENCH_ENVIRONMENTS[group], "environment", "OGBench")
    return None
