"""Named benchmark suites: task lists with per-environment defaults (spec section 3) and data needs.

A :class:`Suite` is a tuple of :class:`Task` s plus suite-wide config overrides. Each task carries
the VGFConfig values that differ between environments (``dataset``, ``env``, ``gamma``,
``target_twin_agg``, ``train_flow_steps``, ``step_size``), its gradient-step budget and a
:class:`DataSource` that tells whether its data is present and how to get it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from vgf_rllib import demo
from vgf_rllib.data.ogbench_catalog import OGBenchName, dataset_files, ogbench_dir

#: evaluation rounds per run: a run of S gradient steps evaluates every S / EVALUATIONS steps
EVALUATIONS = 20
#: episodes per L_test and evaluation round (spec section 3)
EVAL_EPISODES = 50
DataKind = Literal["ogbench-generate", "ogbench-download", "minari", "builtin"]


class SuiteError(KeyError):
    """Unknown suite or task name."""

    def __str__(self) -> str:  # KeyError would print the message's repr
        return str(self.args[0])


@dataclass(frozen=True)
class DataSource:
    """Where a task's dataset comes from.

    ``name`` is the OGBench dataset (``cube-single-play-v0``), the Minari id, or a built-in spec.
    """

    kind: DataKind
    name: str

    def files(self, dataset_dir: str | None = None) -> list[Path]:
        """Local files or folders that must exist before training."""
        if self.kind == "minari":  # the data layer's store root: dataset_dir, env var, default
            store = dataset_dir or os.environ.get("MINARI_DATASETS_PATH") or "~/.minari/datasets"
            return [Path(store).expanduser() / self.name / "data"]
        if self.kind == "builtin":
            return []
        return list(dataset_files(self.name, dataset_dir))

    def missing(self, dataset_dir: str | None = None) -> list[Path]:
        """The subset of :meth:`files` that does not exist."""
        return [path for path in self.files(dataset_dir) if not path.exists()]

    def instructions(self, dataset_dir: str | None = None) -> str:
        """The command (or recipe) that creates the data."""
        directory = ogbench_dir(dataset_dir)
        if self.kind == "ogbench-generate":
            return f"vgf-rllib data generate {self.name} --dir {directory}"
        if self.kind == "ogbench-download":
            return (
                "official download, needs internet (cannot be generated locally): python -c "
                f"\"import ogbench; ogbench.download_datasets(['{self.name}'], '{directory}')\""
            )
        if self.kind == "minari":
            return f"minari download {self.name}"
        return "built in (generated in memory)"


@dataclass(frozen=True)
class Task:
    """One training run's dataset, evaluation env, per-environment settings and step budget."""

    name: str
    group: str
    dataset: str
    env: str
    data: DataSource
    settings: dict[str, Any] = field(default_factory=dict)
    training_steps: int = 1_000_000

    def config(self, evaluations: int) -> dict[str, Any]:
        """VGFConfig overrides for this task, evaluating ``evaluations`` times over its budget."""
        return {
            "dataset": self.dataset,
            "env": self.env,
            **self.settings,
            "updates_per_iteration": max(1, self.training_steps // evaluations),
            "eval_interval": 1,
        }


@dataclass(frozen=True)
class Suite:
    """A named list of tasks plus suite-wide config overrides."""

    name: str
    description: str
    tasks: tuple[Task, ...]
    config: dict[str, Any] = field(default_factory=dict)
    evaluations: int = EVALUATIONS

    def task(self, name: str) -> Task:
        """The task called ``name``; :class:`SuiteError` lists the valid names otherwise."""
        for task in self.tasks:
            if task.name == name:
                return task
        raise SuiteError(
            f"unknown task '{name}' in suite '{self.name}'; "
            f"valid tasks: {', '.join(self.task_names())}"
        )

    def task_names(self) -> list[str]:
        return [task.name for task in self.tasks]

    def select(self, names: list[str] | None) -> tuple[Task, ...]:
        """The named tasks (all when ``names`` is empty or None), in the order given."""
        return tuple(self.task(name) for name in names) if names else self.tasks


@dataclass(frozen=True)
class EnvDefaults:
    """Per-environment VGF settings and where they come from (spec section 3)."""

    gamma: float
    target_twin_agg: str
    train_flow_steps: int
    step_size: float
    source: str
    training_steps: int = 1_000_000

    def settings(self) -> dict[str, Any]:
        return {
            "gamma": self.gamma,
            "target_twin_agg": self.target_twin_agg,
            "train_flow_steps": self.train_flow_steps,
            "step_size": self.step_size,
        }


SCRIPTS = "authors' A-VGF scripts"
CODE_DEFAULTS = "code defaults (environment not in the authors' scripts)"
MAZE_DEFAULTS = EnvDefaults(0.99, "min", 1, 0.1, CODE_DEFAULTS)

#: environment group -> settings; keys are OGBench ``<env>-<dataset>`` names or D4RL groups
ENV_DEFAULTS: dict[str, EnvDefaults] = {
    **{f"pointmaze-{m}-navigate": MAZE_DEFAULTS for m in ("medium", "large", "giant", "teleport")},
    "antmaze-large-navigate": EnvDefaults(0.995, "min", 5, 0.1, SCRIPTS, 2_000_000),
    "antmaze-giant-navigate": EnvDefaults(
        0.995, "min", 1, 0.1, "gamma, steps: spec section 3; L_train, eps: code defaults", 3_000_000
    ),
    "humanoidmaze-medium-navigate": EnvDefaults(0.995, "mean", 1, 0.05, SCRIPTS),
    "humanoidmaze-large-navigate": EnvDefaults(0.995, "mean", 1, 0.05, SCRIPTS),
    "antsoccer-arena-navigate": EnvDefaults(0.995, "mean", 2, 0.05, SCRIPTS),
    "cube-single-play": EnvDefaults(0.99, "mean", 1, 0.05, SCRIPTS),
    "cube-double-play": EnvDefaults(0.99, "mean", 1, 0.05, SCRIPTS),
    "scene-play": EnvDefaults(0.99, "mean", 1, 0.1, SCRIPTS),
    "puzzle-3x3-play": EnvDefaults(0.99, "mean", 5, 0.1, SCRIPTS),
    "puzzle-4x4-play": EnvDefaults(0.99, "mean", 5, 0.1, SCRIPTS),
    "d4rl-locomotion": EnvDefaults(0.99, "min", 1, 0.1, CODE_DEFAULTS),
    "d4rl-antmaze": EnvDefaults(0.99, "min", 1, 0.1, CODE_DEFAULTS),
    "d4rl-antmaze-large": EnvDefaults(
        0.995,
        "min",
        5,
        0.1,
        "authors' antmaze-large scripts, applied to D4RL's large mazes",
        2_000_000,
    ),
}

#: OGBench families whose datasets OGBench's own generators make offline (spec section 4.1)
GENERATABLE_FAMILIES = ("pointmaze", "cube", "scene", "puzzle")


def ogbench_task(group: str, task_id: int | None = None) -> Task:
    """The single-task OGBench task of ``group`` (``cube-single-play``); no id: the default task."""
    env, _, kind = group.rpartition("-")
    name = OGBenchName(env, kind, task_id)
    defaults = ENV_DEFAULTS[group]
    generatable = name.family in GENERATABLE_FAMILIES
    return Task(
        name=name.singletask,
        group=group,
        dataset=f"ogbench:{name.singletask}",
        env=f"ogbench:{name.singletask}",
        data=DataSource("ogbench-generate" if generatable else "ogbench-download", name.dataset),
        settings=defaults.settings(),
        training_steps=defaults.training_steps,
    )


def ogbench_tasks(groups: tuple[str, ...]) -> tuple[Task, ...]:
    """Tasks 1-5 of each OGBench environment group."""
    return tuple(ogbench_task(group, task_id) for group in groups for task_id in range(1, 6))


def minari_task(dataset_id: str, group: str) -> Task:
    """Minari D4RL task named by its id: ``D4RL/antmaze/umaze-v1`` -> ``antmaze-umaze-v1``."""
    defaults = ENV_DEFAULTS[group]
    return Task(
        name="-".join(dataset_id.split("/")[1:]),
        group=group,
        dataset=f"minari:{dataset_id}",
        env=f"minari:{dataset_id}",
        data=DataSource("minari", dataset_id),
        settings=defaults.settings(),
        training_steps=defaults.training_steps,
    )


MANIPULATION = (
    "cube-single-play",
    "cube-double-play",
    "scene-play",
    "puzzle-3x3-play",
    "puzzle-4x4-play",
)
POINTMAZE = tuple(f"pointmaze-{m}-navigate" for m in ("medium", "large", "giant", "teleport"))
LOCOMOTION = (
    "antmaze-large-navigate",
    "antmaze-giant-navigate",
    "humanoidmaze-medium-navigate",
    "humanoidmaze-large-navigate",
    "antsoccer-arena-navigate",
)
D4RL_ANTMAZE = (
    "umaze",
    "umaze-diverse",
    "medium-play",
    "medium-diverse",
    "large-play",
    "large-diverse",
)

#: settings that make a run finish in minutes on CPU (small networks and batches, few episodes)
SMOKE_CONFIG: dict[str, Any] = {
    "critic_hidden_layers": [64, 64],
    "sampler_hidden_layers": [64, 64],
    "train_batch_size_per_learner": 64,
    "num_particles": 4,
    "sampler_euler_steps": 4,
    "eval_episodes": 2,
}
BENCHMARK_CONFIG: dict[str, Any] = {"eval_episodes": EVAL_EPISODES}


def demo_task(transitions: int | None = None) -> Task:
    """The built-in demo task (:mod:`vgf_rllib.demo`), optionally with a smaller dataset."""
    spec = demo.DATASET_SPEC if transitions is None else f"{demo.DATASET_SPEC}-{transitions}"
    return Task(
        name=spec.partition(":")[2],
        group="demo",
        dataset=spec,
        env=demo.ENV_SPEC,
        data=DataSource("builtin", spec),
        training_steps=600,
    )


def _d4rl_locomotion() -> tuple[Task, ...]:
    return tuple(
        minari_task(f"mujoco/{env}/{level}-v0", "d4rl-locomotion")
        for env in ("halfcheetah", "hopper", "walker2d")
        for level in ("simple", "medium", "expert")
    )


def _d4rl_antmaze() -> tuple[Task, ...]:
    return tuple(
        minari_task(
            f"D4RL/antmaze/{name}-v1", "d4rl-antmaze-large" if "large" in name else "d4rl-antmaze"
        )
        for name in D4RL_ANTMAZE
    )


#: suite name -> (description, builder of its tasks, suite-wide config, evaluations per run)
_SUITES: dict[str, tuple[str, Callable[[], tuple[Task, ...]], dict[str, Any], int]] = {
    "smoke": (
        "The built-in demo task (20000 and 2000 transitions) with small networks; about a minute "
        "per task on 2 CPU cores.",
        lambda: (demo_task(), demo_task(2000)),
        {**SMOKE_CONFIG, "test_flow_steps": [0, 1, 2]},
        3,
    ),
    "smoke-pointmaze": (
        "OGBench pointmaze-medium task 1 for 2000 steps with small networks; first generate a "
        "small dataset: "
        "`vgf-rllib data generate pointmaze-medium-navigate-v0 --episodes 20 --dir DIR`.",
        lambda: (replace(ogbench_task("pointmaze-medium-navigate", 1), training_steps=2_000),),
        SMOKE_CONFIG,
        4,
    ),
    "ogbench-manipulation": (
        "OGBench cube-single/double, scene, puzzle-3x3/4x4 (play datasets), tasks 1-5 each.",
        lambda: ogbench_tasks(MANIPULATION),
        BENCHMARK_CONFIG,
        EVALUATIONS,
    ),
    "ogbench-pointmaze": (
        "OGBench pointmaze medium/large/giant/teleport (navigate datasets), tasks 1-5 each.",
        lambda: ogbench_tasks(POINTMAZE),
        BENCHMARK_CONFIG,
        EVALUATIONS,
    ),
    "ogbench-locomotion": (
        "OGBench antmaze-large/giant, humanoidmaze-medium/large, antsoccer-arena (navigate), "
        "tasks 1-5 each; the datasets need the official download.",
        lambda: ogbench_tasks(LOCOMOTION),
        BENCHMARK_CONFIG,
        EVALUATIONS,
    ),
    "ogbench-default-tasks": (
        "The default task of each of the paper's 10 OGBench environments.",
        lambda: tuple(ogbench_task(group) for group in LOCOMOTION + MANIPULATION),
        BENCHMARK_CONFIG,
        EVALUATIONS,
    ),
    "d4rl-locomotion": (
        "halfcheetah/hopper/walker2d simple/medium/expert from Minari's mujoco namespace "
        "(MuJoCo v5 re-collections; D4RL's medium-replay/medium-expert are not on Minari, so "
        "scores are not directly comparable with the paper's D4RL rows).",
        _d4rl_locomotion,
        BENCHMARK_CONFIG,
        EVALUATIONS,
    ),
    "d4rl-antmaze": (
        "D4RL antmaze umaze/umaze-diverse/medium-play/medium-diverse/large-play/large-diverse "
        "(Minari).",
        _d4rl_antmaze,
        BENCHMARK_CONFIG,
        EVALUATIONS,
    ),
}


def suite_names() -> list[str]:
    return list(_SUITES)


def get_suite(name: str) -> Suite:
    """The suite called ``name``; :class:`SuiteError` lists the valid names otherwise."""
    if name not in _SUITES:
        raise SuiteError(f"unknown suite '{name}'; valid suites: {', '.join(_SUITES)}")
    description, build, config, evaluations = _SUITES[name]
    return Suite(name, description, build(), dict(config), evaluations)
