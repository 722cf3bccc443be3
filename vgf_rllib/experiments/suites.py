"""Named benchmark suites: task lists with per-environment settings, evaluation schedules, data.

A :class:`Suite` is a tuple of :class:`Task` s plus suite-wide config overrides and a
:class:`Schedule` (how a run's gradient-step budget is cut into evaluation rounds). Each task
carries the VGFConfig values that differ between environments (``dataset``, ``env``, ``gamma``,
``target_twin_agg``, ``train_flow_steps``, ``step_size``, ``alpha``), its gradient-step budget and
a :class:`DataSource` that tells whether its data is present and how to get it.

Per-environment values come from the authors' VGF run scripts (not the A-VGF ones), each with the
script and block it comes from (:data:`ENV_DEFAULTS`; table in ``docs/settings.md``). Where a script
publishes a set of values (``eps in {0.01, 0.05}``) the default names the member it picks and why,
and ``tune_configs/paper-*.yaml`` sweeps the whole set. Where no VGF script covers an environment
the values are the code defaults (``agents/vgf.py get_config``) and say so.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vgf_rllib import demo, demo_chain
from vgf_rllib.evaluation import EVAL_EPISODES
from vgf_rllib.data.ogbench_catalog import OGBenchName
from vgf_rllib.data.sources import how_to_get, missing_files

#: L_test budgets every evaluation scores (the reference evaluates each checkpoint at 0..3)
TEST_FLOW_STEPS = [0, 1, 2, 3]
#: gradient steps between evaluations: OGBench 100k, D4RL 50k (the authors' protocol)
OGBENCH_EVAL_INTERVAL = 100_000
D4RL_EVAL_INTERVAL = 50_000
#: env steps between weight syncs within an online round (the acting weights lag at most this)
ONLINE_SYNC_STEPS = 1_000


#: the data fields of a sweep task's config and their values when the task does not set them
#: (RLlib's defaults for its offline input fields; VGF's for ``dataset``)
DATA_FIELD_DEFAULTS: dict[str, Any] = {
    "dataset": None,
    "input_": "sampler",
    "input_read_method": "read_parquet",
    "input_read_method_kwargs": {},
    "input_read_episodes": False,
    "input_read_schema": {},
    "input_filesystem": None,
    "input_filesystem_kwargs": {},
    "actions_in_input_normalized": False,
}


class SuiteError(KeyError):
    """Unknown suite or task name, or a budget the evaluation schedule cannot split."""

    def __str__(self) -> str:  # KeyError would print the message's repr
        return str(self.args[0])


@dataclass(frozen=True)
class Schedule:
    """How a run's gradient-step budget becomes ``train()`` rounds, each ending in an evaluation.

    Exactly one of ``eval_interval_steps`` (gradient steps between evaluations: a 1M-step run at
    100k evaluates 10 times, a 3M-step run 30 times) and ``evaluations`` (evaluations per run,
    evenly spaced whatever the budget) is set. The budget must be a multiple of the round length,
    so that a run trains exactly its budget.
    """

    eval_interval_steps: int | None = None
    evaluations: int | None = None

    def __post_init__(self) -> None:
        if (self.eval_interval_steps is None) == (self.evaluations is None):
            raise ValueError("a Schedule sets exactly one of eval_interval_steps and evaluations")
        for name in ("eval_interval_steps", "evaluations"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"Schedule.{name} must be an int >= 1, got {value!r}")

    def split(self, training_steps: int) -> tuple[int, int]:
        """``(rounds, gradient steps per round)`` for a budget; :class:`SuiteError` if uneven."""
        if self.eval_interval_steps is not None:
            rounds, rest = divmod(training_steps, self.eval_interval_steps)
            per_round = self.eval_interval_steps
        else:
            assert self.evaluations is not None
            per_round, rest = divmod(training_steps, self.evaluations)
            rounds = self.evaluations
        if rounds < 1 or per_round < 1 or rest:
            raise SuiteError(
                f"a budget of {training_steps} gradient steps cannot be split into "
                f"{self.describe()}: it must be a positive multiple of the round length"
            )
        return rounds, per_round

    def describe(self) -> str:
        if self.eval_interval_steps is not None:
            return f"an evaluation every {self.eval_interval_steps} steps"
        return f"{self.evaluations} evenly spaced evaluations"


@dataclass(frozen=True)
class Task:
    """One training run's dataset, evaluation env, per-environment settings and step budget.

    ``training_steps`` are offline gradient steps; ``online_env_steps`` (0: offline only) env
    steps of offline-to-online fine-tuning after them. A round of the schedule counts gradient
    steps offline and env steps online, as the authors' loop counter does (after the warm-up,
    one update per env step), so a 1M + 1M run at 100k evaluates 20 times.
    """

    name: str
    group: str
    dataset: str | None
    env: str
    settings: dict[str, Any] = field(default_factory=dict)
    training_steps: int = 1_000_000
    online_env_steps: int = 0
    #: RLlib offline input fields (``input_`` and friends) of a task on RLlib recordings or
    #: Ray Data sources; empty for tasks on a dataset spec
    rllib_input: dict[str, Any] = field(default_factory=dict)

    def missing_data(self, dataset_dir: str | None = None) -> list[Path]:
        """Local files of the task's dataset that do not exist (its data source knows which;
        RLlib input is checked when a trial reads it)."""
        return missing_files(self.dataset, dataset_dir) if self.dataset else []

    def how_to_get_data(self, dataset_dir: str | None = None) -> str:
        """The command or recipe that creates the task's dataset."""
        return how_to_get(self.dataset, dataset_dir) if self.dataset else "your own data"

    def data_config(self) -> dict[str, Any]:
        """The config fields that name the task's data, every data field of a sweep set (one
        experiment's trials share the keys): a dataset spec, or RLlib offline input."""
        return {
            **DATA_FIELD_DEFAULTS,
            **({"dataset": self.dataset} if self.dataset else self.rllib_input),
        }

    def split(self, schedule: Schedule) -> tuple[int, int]:
        """``(rounds, steps per round)``; the offline phase must end on a round boundary."""
        rounds, per_round = schedule.split(self.training_steps + self.online_env_steps)
        if self.online_env_steps and self.training_steps % per_round:
            raise SuiteError(
                f"{self.name}: the offline phase of {self.training_steps} gradient steps does "
                f"not end on a round boundary of {schedule.describe()} ({per_round} steps)"
            )
        return rounds, per_round

    def rounds(self, schedule: Schedule) -> int:
        """``train()`` rounds (= evaluations) of a run under ``schedule``."""
        return self.split(schedule)[0]

    def config(self, schedule: Schedule) -> dict[str, Any]:
        """VGFConfig overrides for this task: each ``train()`` runs one round of ``schedule``
        and ends with an evaluation (``eval_interval`` 1, in rounds). Online, a round collects
        its env steps in chunks of :data:`ONLINE_SYNC_STEPS`, with the owed updates and a
        weight sync after each (docs/algorithm.md, "Offline-to-online fine-tuning")."""
        per_round = self.split(schedule)[1]
        config = {
            **self.data_config(),
            "task_name": self.name,
            "env": self.env,
            **self.settings,
            "updates_per_iteration": per_round,
            "eval_interval": 1,
        }
        if self.online_env_steps:
            config.update(
                offline_updates=self.training_steps,
                online_env_steps=self.online_env_steps,
                online_steps_per_iteration=per_round,
                online_sync_steps=min(ONLINE_SYNC_STEPS, per_round),
            )
        return config


@dataclass(frozen=True)
class Suite:
    """A named list of tasks plus suite-wide config overrides and an evaluation schedule."""

    name: str
    description: str
    tasks: tuple[Task, ...]
    config: dict[str, Any] = field(default_factory=dict)
    schedule: Schedule = Schedule(eval_interval_steps=OGBENCH_EVAL_INTERVAL)

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


# --- per-environment settings -------------------------------------------------------------------

#: the authors' VGF run scripts (docs/settings.md, "Per environment"); the A-VGF scripts are
#: not used here
OGBENCH_SCRIPT = "run_vgf_off_ogbench.sh"
D4RL_SCRIPT = "run_vgf_off_d4rl.sh"
NO_SCRIPT = "no VGF script value; code defaults (agents/vgf.py get_config), sweep"
#: the value sets the OGBench offline script grids over (both blocks, every environment)
OGBENCH_STEP_SIZES = (0.01, 0.05)
OGBENCH_ALPHAS = (0.2, 0.5)
OGBENCH_PICK = (
    "the script grids eps {0.01, 0.05} x alpha {0.2, 0.5} and the paper does not say which "
    "pair each task reports. Default eps 0.05: the larger member, nearer the code default 0.1 "
    "that every other VGF script row uses (with the per-call Adam particle step each step moves a "
    "coordinate by about eps, so 3 steps of 0.01 move particles by at most about 0.03). Default "
    "alpha 0.5: the larger member, nearer the code default 1.0, i.e. the weaker pull toward high "
    "Q against the kernel repulsion (the conservative choice). paper-*.yaml sweeps both sets"
)
D4RL_ALPHAS = (0.05, 0.1)
D4RL_PICK = (
    "the script grids alpha {0.05, 0.1}. Default 0.1: the value run_vgf_off2on_d4rl.sh (active "
    "block) uses for the offline phase of the same tasks. paper-d4rl-antmaze.yaml sweeps both"
)


@dataclass(frozen=True)
class EnvDefaults:
    """Per-environment VGF settings and where they come from.

    ``source`` names the script and block (``run_vgf_off_ogbench.sh, commented block``) or says that
    no VGF script covers the environment. ``value_sets`` holds the sets the script grids over, and
    ``pick`` says which member each single default is and why; :meth:`settings` are the defaults.
    """

    gamma: float
    target_twin_agg: str
    train_flow_steps: int
    step_size: float
    alpha: float
    source: str
    training_steps: int = 1_000_000
    value_sets: dict[str, tuple[float, ...]] = field(default_factory=dict)
    pick: str = ""
    online_env_steps: int = 0
    variant: str = "vgf"
    num_particles: int | None = None  # None: the suite's (N = 10)

    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "gamma": self.gamma,
            "target_twin_agg": self.target_twin_agg,
            "train_flow_steps": self.train_flow_steps,
            "step_size": self.step_size,
            "alpha": self.alpha,
        }
        if self.variant != "vgf":
            settings["variant"] = self.variant
        if self.num_particles is not None:
            settings["num_particles"] = self.num_particles
        return settings

    @property
    def budget(self) -> str:
        """The step budget as docs/settings.md writes it: ``1M``, ``500k + 1M online``."""
        def short(steps: int) -> str:
            return f"{steps // 1_000_000}M" if steps % 1_000_000 == 0 else f"{steps // 1_000}k"

        online = f" + {short(self.online_env_steps)} online" if self.online_env_steps else ""
        return short(self.training_steps) + online

    @property
    def from_script(self) -> bool:
        """Whether a VGF run script sets these values (else they are code defaults)."""
        return self.source != NO_SCRIPT


def _ogbench_offline(
    gamma: float, target: str, block: str, training_steps: int = 1_000_000
) -> EnvDefaults:
    """A row of run_vgf_off_ogbench.sh: N 10, L_train 3, eps/alpha sets, K 10 (suite config)."""
    return EnvDefaults(
        gamma,
        target,
        3,
        0.05,
        0.5,
        f"{OGBENCH_SCRIPT}, {block}",
        training_steps,
        {"step_size": OGBENCH_STEP_SIZES, "alpha": OGBENCH_ALPHAS},
        OGBENCH_PICK,
    )


VGF_OFF2ON_OGBENCH = "run_vgf_off2on_ogbench.sh, active block (puzzle-3x3 task4)"
VGF_OFF2ON_D4RL = "run_vgf_off2on_d4rl.sh, active block (antmaze-large play/diverse)"
AVGF_OFF2ON_OGBENCH = "run_a_vgf_off2on_ogbench.sh, per-task rows (A-VGF, N 5)"
AVGF_OFF2ON_D4RL = "run_a_vgf_off2on_d4rl.sh, per-task rows (A-VGF, N 5; antmaze-medium-play, large-diverse)"


def _off2on(
    gamma: float,
    target: str,
    train_flow_steps: int,
    step_size: float,
    alpha: float,
    source: str,
    *,
    offline_steps: int = 1_000_000,
    avgf: bool = False,
) -> EnvDefaults:
    """A row of an offline-to-online script: 1M online env steps after the offline phase;
    A-VGF rows use the learned gradient field and N 5 (docs/algorithm.md, "A-VGF")."""
    return EnvDefaults(
        gamma, target, train_flow_steps, step_size, alpha, source, offline_steps,
        online_env_steps=1_000_000,
        variant="a-vgf" if avgf else "vgf",
        num_particles=5 if avgf else None,
    )


#: code defaults (agents/vgf.py get_config) for environments no VGF script covers
CODE_DEFAULTS = EnvDefaults(0.99, "min", 1, 0.1, 1.0, NO_SCRIPT)
MANIPULATION_BLOCK = "commented block (cube-single, cube-double, scene, puzzle-3x3)"
HUMANOID_BLOCK = "commented block (humanoidmaze-medium/large, antsoccer)"
ANTMAZE_BLOCK = "commented block (antmaze-large / antmaze-giant)"

#: environment group -> settings; keys are OGBench ``<env>-<dataset>`` names or D4RL groups
ENV_DEFAULTS: dict[str, EnvDefaults] = {
    "cube-single-play": _ogbench_offline(0.99, "mean", MANIPULATION_BLOCK),
    "cube-double-play": _ogbench_offline(0.99, "mean", MANIPULATION_BLOCK),
    "scene-play": _ogbench_offline(0.99, "mean", MANIPULATION_BLOCK),
    "puzzle-3x3-play": _ogbench_offline(0.99, "mean", MANIPULATION_BLOCK),
    "puzzle-4x4-play": _ogbench_offline(
        0.99, "mean", "active block (puzzle-4x4 task4; the same values for tasks 1-5 here)"
    ),
    "humanoidmaze-medium-navigate": _ogbench_offline(0.995, "mean", HUMANOID_BLOCK),
    "humanoidmaze-large-navigate": _ogbench_offline(0.995, "mean", HUMANOID_BLOCK),
    "antsoccer-arena-navigate": _ogbench_offline(0.995, "mean", HUMANOID_BLOCK),
    "antmaze-large-navigate": _ogbench_offline(0.995, "min", ANTMAZE_BLOCK, 2_000_000),
    "antmaze-giant-navigate": _ogbench_offline(0.99, "min", ANTMAZE_BLOCK, 3_000_000),
    **{f"pointmaze-{m}-navigate": CODE_DEFAULTS for m in ("medium", "large", "giant", "teleport")},
    "d4rl-antmaze-large": EnvDefaults(
        0.99,
        "min",
        5,
        0.1,
        0.1,
        f"{D4RL_SCRIPT}, active block (antmaze-large play/diverse)",
        1_000_000,
        {"alpha": D4RL_ALPHAS},
        D4RL_PICK,
    ),
    "d4rl-antmaze": CODE_DEFAULTS,  # umaze, umaze-diverse, medium-play/diverse
    "d4rl-locomotion": CODE_DEFAULTS,
    # offline-to-online: the authors' off2on scripts (alpha is unused by A-VGF: code default)
    "off2on/puzzle-3x3-play": _off2on(0.99, "mean", 5, 0.1, 1.0, VGF_OFF2ON_OGBENCH),
    "off2on/d4rl-antmaze-large": _off2on(
        0.99, "min", 5, 0.1, 0.1, VGF_OFF2ON_D4RL, offline_steps=500_000
    ),
    **{
        f"a-vgf-off2on/{group}": _off2on(gamma, target, steps, eps, 1.0, AVGF_OFF2ON_OGBENCH, avgf=True)
        for group, (gamma, target, steps, eps) in {
            "antmaze-large-navigate": (0.995, "min", 5, 0.1),
            "antmaze-giant-navigate": (0.995, "min", 5, 0.1),
            "humanoidmaze-medium-navigate": (0.995, "mean", 1, 0.05),
            "humanoidmaze-large-navigate": (0.995, "mean", 1, 0.05),
            "antsoccer-arena-navigate": (0.995, "mean", 2, 0.05),
            "cube-single-play": (0.99, "mean", 1, 0.05),
            "cube-double-play": (0.99, "mean", 1, 0.05),
            "scene-play": (0.99, "mean", 1, 0.1),
            "puzzle-3x3-play": (0.99, "mean", 5, 0.1),
            "puzzle-4x4-play": (0.99, "mean", 5, 0.1),
        }.items()
    },
    "a-vgf-off2on/d4rl-antmaze": _off2on(0.99, "min", 5, 0.1, 1.0, AVGF_OFF2ON_D4RL, avgf=True),
}

#: VGF settings every benchmark suite shares: the values of all the authors' VGF run scripts
#: (K 10, N 10) and the code defaults they keep (512x4 networks, Adam 3e-4, batch 256, tau 0.005),
#: pinned here so that a later change of VGFConfig's defaults does not move a benchmark
SCRIPT_COMMON: dict[str, Any] = {
    "num_particles": 10,  # N: every VGF script (A-VGF scripts use 5)
    "sampler_euler_steps": 10,  # K: every run script (code default 5)
    "critic_hidden_layers": [512, 512, 512, 512],
    "sampler_hidden_layers": [512, 512, 512, 512],
    "critic_lr": 3e-4,
    "sampler_lr": 3e-4,
    "train_batch_size_per_learner": 256,
    "tau": 0.005,
    "score_twin_agg": "mean",
    "particle_agg": "mean",
    "action_selection": "argmax",
}

#: OGBench families whose datasets OGBench's own generators make offline (data layer)


def suite_task(name: str, group: str, spec: str) -> Task:
    """The task ``name`` whose dataset and evaluation env are ``spec``, with the settings and
    budgets of the :data:`ENV_DEFAULTS` row ``group``."""
    defaults = ENV_DEFAULTS[group]
    return Task(
        name=name,
        group=group,
        dataset=spec,
        env=spec,
        settings=defaults.settings(),
        training_steps=defaults.training_steps,
        online_env_steps=defaults.online_env_steps,
    )


def ogbench_task(group: str, task_id: int | None = None, setting: str = "") -> Task:
    """The single-task OGBench task of ``group`` (``cube-single-play``); no id: the default task.
    ``setting`` (``off2on``, ``a-vgf-off2on``) picks the ``<setting>/<group>`` settings row."""
    env, _, kind = group.rpartition("-")
    name = OGBenchName(env, kind, task_id).singletask
    return suite_task(name, f"{setting}/{group}" if setting else group, f"ogbench:{name}")


def ogbench_tasks(groups: tuple[str, ...]) -> tuple[Task, ...]:
    """Tasks 1-5 of each OGBench environment group."""
    return tuple(ogbench_task(group, task_id) for group in groups for task_id in range(1, 6))


def minari_task(dataset_id: str, group: str) -> Task:
    """Minari D4RL task named by its id: ``D4RL/antmaze/umaze-v1`` -> ``antmaze-umaze-v1``."""
    return suite_task("-".join(dataset_id.split("/")[1:]), group, f"minari:{dataset_id}")


def env_defaults(task: Task) -> EnvDefaults | None:
    """The :data:`ENV_DEFAULTS` row a task's settings come from (None for the demo tasks)."""
    return ENV_DEFAULTS.get(task.group)


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
BENCHMARK_CONFIG: dict[str, Any] = {
    **SCRIPT_COMMON,
    "eval_episodes": EVAL_EPISODES,
    "test_flow_steps": TEST_FLOW_STEPS,
}
OGBENCH_SCHEDULE = Schedule(eval_interval_steps=OGBENCH_EVAL_INTERVAL)
D4RL_SCHEDULE = Schedule(eval_interval_steps=D4RL_EVAL_INTERVAL)


def demo_task(transitions: int | None = None) -> Task:
    """The built-in demo task (:mod:`vgf_rllib.demo`), optionally with a smaller dataset."""
    spec = demo.DATASET_SPEC if transitions is None else f"{demo.DATASET_SPEC}-{transitions}"
    return Task(
        name=spec.partition(":")[2],
        group="demo",
        dataset=spec,
        env=demo.ENV_SPEC,
        training_steps=600,
    )


def chain_off2on_task() -> Task:
    """The delayed-reward demo chain (1000 episodes), 300 offline steps then 300 online env
    steps: the offline-to-online path of a sweep in seconds."""
    spec = f"demo:{demo_chain.DATASET_NAME}-1000"
    return Task(
        name=spec.partition(":")[2],
        group="demo",
        dataset=spec,
        env=demo_chain.ENV_SPEC,
        training_steps=300,
        online_env_steps=300,
    )


def _off2on_minari(names: tuple[str, ...], setting: str, group: str) -> tuple[Task, ...]:
    return tuple(
        minari_task(f"D4RL/antmaze/{name}-v1", f"{setting}/{group}")
        for name in names
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


#: suite name -> (description, builder of its tasks, suite-wide config, evaluation schedule)
_SUITES: dict[str, tuple[str, Callable[[], tuple[Task, ...]], dict[str, Any], Schedule]] = {
    "smoke": (
        "The built-in demo task (20000 and 2000 transitions) with small networks; about a minute "
        "per task on 2 CPU cores.",
        lambda: (demo_task(), demo_task(2000)),
        {**SMOKE_CONFIG, "test_flow_steps": [0, 1, 2]},
        Schedule(evaluations=3),
    ),
    "smoke-pointmaze": (
        "OGBench pointmaze-medium task 1 for 2000 steps with small networks; first generate a "
        "small dataset: "
        "`vgf-rllib data generate pointmaze-medium-navigate-v0 --episodes 20 --dir DIR`.",
        lambda: (replace(ogbench_task("pointmaze-medium-navigate", 1), training_steps=2_000),),
        SMOKE_CONFIG,
        Schedule(evaluations=4),
    ),
    "smoke-off2on": (
        "The delayed-reward demo chain, 300 offline steps then 300 online env steps with small "
        "networks; seconds per task on 2 CPU cores.",
        lambda: (chain_off2on_task(),),
        {**SMOKE_CONFIG, "test_flow_steps": [0, 1], "online_warmup_steps": 50},
        Schedule(evaluations=4),
    ),
    "ogbench-manipulation": (
        "OGBench cube-single/double, scene, puzzle-3x3/4x4 (play datasets), tasks 1-5 each.",
        lambda: ogbench_tasks(MANIPULATION),
        BENCHMARK_CONFIG,
        OGBENCH_SCHEDULE,
    ),
    "ogbench-pointmaze": (
        "OGBench pointmaze medium/large/giant/teleport (navigate datasets), tasks 1-5 each; "
        "no VGF script covers pointmaze (code defaults).",
        lambda: ogbench_tasks(POINTMAZE),
        BENCHMARK_CONFIG,
        OGBENCH_SCHEDULE,
    ),
    "ogbench-locomotion": (
        "OGBench antmaze-large/giant, humanoidmaze-medium/large, antsoccer-arena (navigate), "
        "tasks 1-5 each; the datasets need the official download.",
        lambda: ogbench_tasks(LOCOMOTION),
        BENCHMARK_CONFIG,
        OGBENCH_SCHEDULE,
    ),
    "ogbench-default-tasks": (
        "The default task of each of the paper's 10 OGBench environments.",
        lambda: tuple(ogbench_task(group) for group in LOCOMOTION + MANIPULATION),
        BENCHMARK_CONFIG,
        OGBENCH_SCHEDULE,
    ),
    "d4rl-locomotion": (
        "halfcheetah/hopper/walker2d simple/medium/expert from Minari's mujoco namespace "
        "(MuJoCo v5 re-collections; D4RL's medium-replay/medium-expert are not on Minari, so "
        "scores are not directly comparable with the paper's D4RL rows); no VGF script covers "
        "D4RL locomotion (code defaults).",
        _d4rl_locomotion,
        BENCHMARK_CONFIG,
        D4RL_SCHEDULE,
    ),
    "d4rl-antmaze": (
        "D4RL antmaze umaze/umaze-diverse/medium-play/medium-diverse/large-play/large-diverse "
        "(Minari); large mazes from run_vgf_off_d4rl.sh, the others code defaults.",
        _d4rl_antmaze,
        BENCHMARK_CONFIG,
        D4RL_SCHEDULE,
    ),
    "ogbench-off2on": (
        "VGF offline-to-online: OGBench puzzle-3x3-play task4, 1M offline steps then 1M online "
        "env steps (run_vgf_off2on_ogbench.sh, active block; the task its other, commented "
        "blocks name is not recorded here).",
        lambda: (ogbench_task("puzzle-3x3-play", 4, setting="off2on"),),
        BENCHMARK_CONFIG,
        OGBENCH_SCHEDULE,
    ),
    "d4rl-antmaze-off2on": (
        "VGF offline-to-online: D4RL antmaze large-play/large-diverse (Minari), 500k offline "
        "steps then 1M online env steps (run_vgf_off2on_d4rl.sh, active block).",
        lambda: _off2on_minari(("large-play", "large-diverse"), "off2on", "d4rl-antmaze-large"),
        BENCHMARK_CONFIG,
        D4RL_SCHEDULE,
    ),
    "ogbench-off2on-avgf": (
        "A-VGF offline-to-online on the default task of each of the paper's 10 OGBench "
        "environments, 1M + 1M (run_a_vgf_off2on_ogbench.sh; the script's task ids are not "
        "recorded here, so the OGBench default task of each environment).",
        lambda: tuple(
            ogbench_task(group, setting="a-vgf-off2on") for group in LOCOMOTION + MANIPULATION
        ),
        BENCHMARK_CONFIG,
        OGBENCH_SCHEDULE,
    ),
    "d4rl-antmaze-off2on-avgf": (
        "A-VGF offline-to-online: D4RL antmaze medium-play and large-diverse (Minari), 1M + 1M "
        "(run_a_vgf_off2on_d4rl.sh).",
        lambda: _off2on_minari(("medium-play", "large-diverse"), "a-vgf-off2on", "d4rl-antmaze"),
        BENCHMARK_CONFIG,
        D4RL_SCHEDULE,
    ),
}


def suite_names() -> list[str]:
    return list(_SUITES)


def get_suite(name: str) -> Suite:
    """The suite called ``name``; :class:`SuiteError` lists the valid names otherwise."""
    if name not in _SUITES:
        raise SuiteError(f"unknown suite '{name}'; valid suites: {', '.join(_SUITES)}")
    description, build, config, schedule = _SUITES[name]
    return Suite(name, description, build(), copy.deepcopy(config), schedule)
