"""Sweep files (``tune_configs/*.yaml``): loading and validation.

A sweep file names a suite and its tasks, or lists tasks on the user's own data (``tasks:``
mappings with ``dataset``, ``env`` and ``training_steps``), and says which
VGFConfig values are fixed (``config``, ``resources``), which are searched (``search``), how trials
are scheduled, stopped, checkpointed and retried. See ``docs/sweeps.md`` for the format; every
error names the file and the offending key.

A trial's length is its task's gradient-step budget (the suite's, or ``stop.training_steps``, which
sets the offline phase of an offline-to-online task; its online env steps stay the suite's), cut
into ``train()`` rounds by a :class:`~vgf_rllib.experiments.suites.Schedule`: ``stop.eval_interval_steps``
(gradient steps between evaluations, the paper's protocol) or ``stop.evaluations`` (evaluations
per trial), else the suite's schedule. Each round ends with an evaluation at every L_test.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from vgf_rllib.experiments.suites import (
    DATA_FIELD_DEFAULTS,
    Schedule,
    Suite,
    SuiteError,
    Task,
    get_suite,
)

TOP_LEVEL_KEYS = (
    "name",
    "suite",
    "tasks",
    "config",
    "resources",
    "search",
    "num_samples",
    "scheduler",
    "stop",
    "max_failures",
    "checkpoint",
    "max_concurrent",
)
#: RLlib resource fields a sweep may set per trial (fractional GPUs let trials share a GPU)
RESOURCE_KEYS = (
    "num_learners",
    "num_gpus_per_learner",
    "num_cpus_per_learner",
    "num_cpus_for_main_process",
)
#: fields a sweep file may not set: the suite decides them per task (``stop`` sets the step budget)
TASK_KEYS = (
    *DATA_FIELD_DEFAULTS, "env", "task_name", "updates_per_iteration", "eval_interval",
    "offline_updates", "online_env_steps", "online_steps_per_iteration", "online_sync_steps",
)
#: keys of an own-data task (a ``tasks:`` mapping): its name, data, env and budget
OWN_TASK_KEYS = ("name", "group", "env", "training_steps", *DATA_FIELD_DEFAULTS)
#: the suite of a sweep file whose tasks are the user's own data
OWN_DATA_SUITE = "own-data"
SEARCH_KINDS = ("grid", "choice", "uniform", "loguniform", "randint")
STOP_KEYS = ("evaluations", "eval_interval_steps", "training_steps")
CHECKPOINT_KEYS = ("frequency", "num_to_keep")
SCHEDULER_KEYS = ("type", "metric", "grace_period", "reduction_factor")
SCHEDULERS = ("fifo", "asha")
#: the metric schedulers compare by default: the best L_test's mean score of an evaluation
DEFAULT_METRIC = "vgf_eval/best_score"


class SweepConfigError(ValueError):
    """A sweep file is malformed; the message names the file and key."""


@dataclass(frozen=True)
class SearchDim:
    """One searched VGFConfig field: ``kind`` in :data:`SEARCH_KINDS` and its values or bounds."""

    kind: str
    values: tuple[Any, ...]

    def to_tune(self) -> Any:
        """The Tune search-space object."""
        from ray import tune

        if self.kind == "grid":
            return tune.grid_search(list(self.values))
        if self.kind == "choice":
            return tune.choice(list(self.values))
        low, high = self.values
        if self.kind == "randint":
            return tune.randint(low, high + 1)  # both ends included
        return getattr(tune, self.kind)(low, high)


@dataclass(frozen=True)
class Scheduler:
    """Trial scheduler: ``fifo`` (run everything to the end) or per-task ``asha``."""

    type: str = "fifo"
    metric: str = DEFAULT_METRIC
    grace_period: int = 1
    reduction_factor: float = 3.0


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep file."""

    name: str
    suite: Suite
    tasks: tuple[Task, ...]
    config: dict[str, Any] = field(default_factory=dict)
    search: dict[str, SearchDim] = field(default_factory=dict)
    num_samples: int = 1
    scheduler: Scheduler = Scheduler()
    schedule: Schedule = Schedule(evaluations=1)
    training_steps: int | None = None
    max_failures: int = 2
    checkpoint_frequency: int = 1
    checkpoints_to_keep: int = 2
    max_concurrent: int = 0
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def dataset_dir(self) -> str | None:
        return self.config.get("dataset_dir")

    def budget(self, task: Task) -> Task:
        """``task`` with the file's step budget (``stop.training_steps``) when it sets one."""
        if self.training_steps is None:
            return task
        return replace(task, training_steps=self.training_steps)

    def rounds(self, task: Task) -> int:
        """``train()`` rounds, each ending in an evaluation, of ``task``'s trials."""
        return self.budget(task).rounds(self.schedule)

    def rounds_by_task(self) -> dict[str, int]:
        """Task name -> its rounds (what the per-task stopper and ASHA look up)."""
        return {task.name: self.rounds(task) for task in self.tasks}

    def task_config(self, task: Task) -> dict[str, Any]:
        """Every fixed VGFConfig value of ``task``'s trials (suite, task, then the file)."""
        return {**self.suite.config, **self.budget(task).config(self.schedule), **self.config}


def _fail(where: str, message: str) -> SweepConfigError:
    return SweepConfigError(f"{where}: {message}")


def _check_keys(where: str, mapping: Any, allowed: tuple[str, ...] | set[str]) -> dict[str, Any]:
    if not isinstance(mapping, dict):
        raise _fail(where, f"expected a mapping, got {type(mapping).__name__} {mapping!r}")
    unknown = sorted(set(mapping) - set(allowed))
    if unknown:
        raise _fail(where, f"unknown key(s) {unknown}; valid keys: {sorted(allowed)}")
    return mapping


def _positive_int(where: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(where, f"expected an int >= {minimum}, got {value!r}")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_search_dim(where: str, spec: Any) -> SearchDim:
    """``{grid: [...]}``, ``{choice: [...]}``, ``{uniform|loguniform|randint: [low, high]}``."""
    example = "e.g. {grid: [0.05, 0.1]} or {loguniform: [0.01, 0.1]}"
    if not isinstance(spec, dict) or len(spec) != 1:
        raise _fail(
            where,
            f"expected a mapping with exactly one of {list(SEARCH_KINDS)}, {example}; got {spec!r}",
        )
    ((kind, values),) = spec.items()
    if kind not in SEARCH_KINDS:
        raise _fail(where, f"unknown search kind '{kind}'; valid kinds: {list(SEARCH_KINDS)}")
    if not isinstance(values, list) or not values:
        raise _fail(f"{where}.{kind}", f"expected a non-empty list, got {values!r}")
    if kind in ("grid", "choice"):
        return SearchDim(kind, tuple(values))
    if len(values) != 2 or not all(_number(v) for v in values) or not values[0] < values[1]:
        raise _fail(
            f"{where}.{kind}", f"expected [low, high] numbers with low < high, got {values!r}"
        )
    if kind == "loguniform" and values[0] <= 0:
        raise _fail(f"{where}.{kind}", f"bounds must be > 0, got {values!r}")
    if kind == "randint" and not all(isinstance(v, int) for v in values):
        raise _fail(f"{where}.{kind}", f"bounds must be ints, got {values!r}")
    return SearchDim(kind, tuple(values))


def _parse_scheduler(where: str, spec: Any) -> Scheduler:
    if spec is None or isinstance(spec, str):
        spec = {"type": spec or "fifo"}
    spec = _check_keys(where, spec, SCHEDULER_KEYS)
    scheduler = Scheduler(**spec)
    if scheduler.type not in SCHEDULERS:
        raise _fail(
            f"{where}.type", f"unknown scheduler '{scheduler.type}'; valid: {list(SCHEDULERS)}"
        )
    _positive_int(f"{where}.grace_period", scheduler.grace_period)
    if not _number(scheduler.reduction_factor) or scheduler.reduction_factor <= 1:
        raise _fail(
            f"{where}.reduction_factor",
            f"expected a number > 1, got {scheduler.reduction_factor!r}",
        )
    return scheduler


def _parse_tasks(where: str, suite: Suite, names: Any) -> tuple[Task, ...]:
    if names is not None and (
        not isinstance(names, list) or not all(isinstance(n, str) for n in names)
    ):
        raise _fail(where, f"expected a list of task names, got {names!r}")
    try:
        return suite.select(names)
    except SuiteError as error:
        raise _fail(where, str(error)) from None


def _own_data_suite(where: str, tasks: Any, training_steps: Any) -> Suite:
    """The suite of a sweep file without ``suite:``: its ``tasks`` mappings, each naming its data
    (``dataset`` or RLlib's ``input_`` with its read fields), ``env`` and ``training_steps``
    (else ``stop.training_steps``); one evaluation per trial unless ``stop`` says otherwise."""
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, dict) for t in tasks):
        raise _fail(
            where,
            "needs 'suite' (a built-in suite and its task names), or 'tasks' as a list of "
            "mappings on your own data, e.g. {name: my-task, input_: s3://bucket/recording, "
            "env: Pendulum-v1, training_steps: 10000}",
        )
    parsed = []
    for index, raw in enumerate(tasks):
        at = f"{where}: tasks[{index}]"
        raw = _check_keys(at, raw, OWN_TASK_KEYS)
        missing = [key for key in ("name", "env") if not raw.get(key)]
        if missing:
            raise _fail(at, f"missing required key(s) {missing}")
        if ("dataset" in raw) == ("input_" in raw):
            raise _fail(
                at,
                "needs one of 'dataset' (a .npz/.parquet path or dataset spec) or 'input_' "
                "(RLlib's offline input: paths or URIs)",
            )
        if "dataset" in raw and set(raw) & (set(DATA_FIELD_DEFAULTS) - {"dataset"}):
            raise _fail(at, "RLlib input fields (input_read_*, ...) apply to 'input_' tasks only")
        if "training_steps" in raw and training_steps is not None:
            raise _fail(at, "training_steps is set here and in stop.training_steps; set it once")
        steps = _positive_int(f"{at}.training_steps", raw.get("training_steps", training_steps))
        data = {key: raw[key] for key in DATA_FIELD_DEFAULTS if key in raw}
        data = {key: _absolute_paths(value) if key in ("dataset", "input_") else value
                for key, value in data.items()}
        parsed.append(Task(
            name=str(raw["name"]),
            group=str(raw.get("group", raw["name"])),
            dataset=data.pop("dataset", None),
            env=str(raw["env"]),
            training_steps=steps,
            rllib_input=data,
        ))
    names = [task.name for task in parsed]
    if len(set(names)) != len(names):
        raise _fail(f"{where}: tasks", f"task names must be unique, got {names}")
    return Suite(OWN_DATA_SUITE, "tasks on your own data", tuple(parsed), schedule=Schedule(evaluations=1))


def _absolute_paths(value: Any) -> Any:
    """A path (or list of paths) with relative local ones made absolute; other values as is."""
    if isinstance(value, list):
        return [_absolute(str(v)) for v in value]
    return _absolute(str(value)) if isinstance(value, str) else value


def _check_fields(where: str, mapping: Any, known: set[str]) -> dict[str, Any]:
    """Only VGFConfig fields, none of those the suite sets per task."""
    mapping = _check_keys(where, mapping or {}, known)
    fixed = sorted(set(mapping) & set(TASK_KEYS))
    if fixed:
        raise _fail(
            where, f"{fixed} are set per task by the suite (use `stop:` for the step budget)"
        )
    return dict(mapping)


def _absolute(path: str) -> str:
    """A relative local path made absolute (trials run in their own folders); URIs, ``~`` kept."""
    if "://" in path or Path(path).expanduser().is_absolute():
        return path
    return str(Path.cwd() / path)


def vgf_config_keys() -> set[str]:
    """The settable fields of VGFConfig (RLlib's plus VGF's, properties such as
    ``train_batch_size_per_learner`` included)."""
    from vgf_rllib import VGFConfig

    return set(VGFConfig().field_names())


def parse_sweep(raw: Any, where: str = "<sweep>", default_name: str = "sweep") -> SweepSpec:
    """Validate a parsed sweep file; ``where`` prefixes error messages."""
    raw = _check_keys(where, raw, TOP_LEVEL_KEYS)
    if "suite" in raw:
        try:
            suite = get_suite(str(raw["suite"]))
        except SuiteError as error:
            raise _fail(f"{where}: suite", str(error)) from None
    else:
        suite = _own_data_suite(where, raw.get("tasks"), (raw.get("stop") or {}).get("training_steps"))
    known = vgf_config_keys()
    config = _check_fields(f"{where}: config", raw.get("config"), known)
    if isinstance(config.get("dataset_dir"), str):
        config["dataset_dir"] = _absolute(config["dataset_dir"])
    resources = _check_keys(f"{where}: resources", raw.get("resources") or {}, RESOURCE_KEYS)
    for key, value in resources.items():
        if not _number(value) or value < 0:
            raise _fail(f"{where}: resources.{key}", f"expected a number >= 0, got {value!r}")
    search_raw = _check_fields(f"{where}: search", raw.get("search"), known)
    search = {
        key: parse_search_dim(f"{where}: search.{key}", spec) for key, spec in search_raw.items()
    }
    both = sorted(set(search) & (set(config) | set(resources)))
    if both:
        raise _fail(
            f"{where}: search", f"{both} are also fixed in config/resources; set each key once"
        )
    stop = _check_keys(f"{where}: stop", raw.get("stop") or {}, STOP_KEYS)
    checkpoint = _check_keys(f"{where}: checkpoint", raw.get("checkpoint") or {}, CHECKPOINT_KEYS)
    scheduler = _parse_scheduler(f"{where}: scheduler", raw.get("scheduler"))
    spec = SweepSpec(
        name=str(raw.get("name", default_name)),
        suite=suite,
        tasks=(
            suite.tasks if suite.name == OWN_DATA_SUITE
            else _parse_tasks(f"{where}: tasks", suite, raw.get("tasks"))
        ),
        config={**config, **resources},
        search=search,
        num_samples=_positive_int(f"{where}: num_samples", raw.get("num_samples", 1)),
        scheduler=scheduler,
        schedule=_parse_schedule(f"{where}: stop", stop, suite),
        training_steps=(
            _positive_int(f"{where}: stop.training_steps", stop["training_steps"])
            if "training_steps" in stop
            else None
        ),
        max_failures=_positive_int(f"{where}: max_failures", raw.get("max_failures", 2), minimum=0),
        checkpoint_frequency=_positive_int(
            f"{where}: checkpoint.frequency", checkpoint.get("frequency", 1)
        ),
        checkpoints_to_keep=_positive_int(
            f"{where}: checkpoint.num_to_keep", checkpoint.get("num_to_keep", 2)
        ),
        max_concurrent=_positive_int(
            f"{where}: max_concurrent", raw.get("max_concurrent", 0), minimum=0
        ),
        source=raw,
    )
    if spec.num_samples > 1 and all(dim.kind == "grid" for dim in search.values()):
        raise _fail(
            f"{where}: num_samples",
            f"{spec.num_samples} repeats of a grid give identical trials (runs are seeded: "
            "config seed, default 0); for repeats, search seed: {grid: [0, 1, 2]} instead",
        )
    rounds = _check_budgets(f"{where}: stop", spec)
    if scheduler.type == "asha" and scheduler.grace_period > min(rounds.values()):
        raise _fail(
            f"{where}: scheduler.grace_period",
            f"exceeds the {min(rounds.values())} evaluations of the shortest trial",
        )
    return spec


def _parse_schedule(where: str, stop: dict[str, Any], suite: Suite) -> Schedule:
    """``stop.eval_interval_steps`` (steps) or ``stop.evaluations`` (count), else the suite's."""
    if "evaluations" in stop and "eval_interval_steps" in stop:
        raise _fail(
            where,
            "set either evaluations (per trial) or eval_interval_steps (gradient steps between "
            "evaluations), not both",
        )
    if "eval_interval_steps" in stop:
        interval = _positive_int(f"{where}.eval_interval_steps", stop["eval_interval_steps"])
        return Schedule(eval_interval_steps=interval)
    if "evaluations" in stop:
        return Schedule(evaluations=_positive_int(f"{where}.evaluations", stop["evaluations"]))
    return suite.schedule


def _check_budgets(where: str, spec: SweepSpec) -> dict[str, int]:
    """Every task's rounds; an error names the first task whose budget the schedule cannot split."""
    rounds = {}
    for task in spec.tasks:
        try:
            rounds[task.name] = spec.rounds(task)
        except SuiteError as error:
            raise _fail(where, f"task {task.name}: {error}") from None
    return rounds


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep YAML file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as error:
        raise SweepConfigError(f"{path}: cannot read ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise SweepConfigError(f"{path}: invalid YAML ({error})") from None
    return parse_sweep(raw, where=str(path), default_name=path.stem)
