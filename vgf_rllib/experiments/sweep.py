"""Run a sweep (:mod:`vgf_rllib.experiments.sweep_files`) as one Tune experiment of ``tune.Tuner("VGF", ...)``.

All tasks of the suite share one experiment: the search space is a grid over the tasks' names
(``task_name``), and the settings that differ between tasks, their data included, are looked up
from the trial's task (:class:`TaskValue`). ASHA runs per task (:class:`PerTaskASHA`), so trials only compete with
trials of the same task. Each iteration trains one round of the sweep's schedule and evaluates
all L_test budgets; a trial stops after its task's rounds (:class:`TaskRounds`: tasks with larger
budgets, such as OGBench antmaze-giant's 3M steps, run more rounds at the same eval interval).

The driver loads each distinct dataset once, before any trial starts, and shares it through
Ray's object store (:func:`shared_trainable`): no trial reads the source, so data on the head
node, on shared storage or behind RLlib's ``input_`` serves a whole cluster (docs/sweeps.md,
"Scaling out").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from ray import tune
from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler, TrialScheduler
from ray.tune.stopper import Stopper

from vgf_rllib.experiments.sweep_files import SweepSpec

#: file the sweep writes into the experiment folder for ``vgf-rllib report``
METADATA_FILE = "vgf_sweep.yaml"
#: the Tune name of a sweep's trainable (trial folders are ``VGF_sweep_<env>_<id>``)
SWEEP_TRAINABLE = "VGF_sweep"


class TaskValue:
    """A ``tune.sample_from`` callable: the value of one config key for the trial's task."""

    def __init__(self, key: str, by_task: dict[str, Any]) -> None:
        self.key = key
        self.by_task = by_task

    def __call__(self, spec: Any) -> Any:
        return self.by_task[spec["config"]["task_name"]]

    def __repr__(self) -> str:
        return f"TaskValue({self.key!r})"


def param_space(spec: SweepSpec) -> dict[str, Any]:
    """Tune's param_space: a grid over tasks, per-task values, then the searched keys."""
    configs = {task.name: spec.task_config(task) for task in spec.tasks}
    space: dict[str, Any] = {"task_name": tune.grid_search(list(configs))}
    keys = {key for config in configs.values() for key in config} - {"task_name"}
    for key in sorted(keys):
        values = {name: config[key] for name, config in configs.items()}
        distinct = {repr(value) for value in values.values()}
        space[key] = (
            next(iter(values.values()))
            if len(distinct) == 1
            else tune.sample_from(TaskValue(key, values))
        )
    space.update({key: dim.to_tune() for key, dim in spec.search.items()})
    return space


class TaskRounds(Stopper):
    """Stops each trial after its task's number of rounds (looked up by the trial's task)."""

    def __init__(self, rounds_by_task: dict[str, int]) -> None:
        self.rounds_by_task = dict(rounds_by_task)

    def __call__(self, trial_id: str, result: dict) -> bool:
        task = result["config"]["task_name"]
        return result["training_iteration"] >= self.rounds_by_task[task]

    def stop_all(self) -> bool:
        return False


class PerTaskASHA(FIFOScheduler):
    """Asynchronous successive halving (ASHA) run separately for each task (trial ``task_name``).

    ``max_t_by_task`` (task name -> rounds) gives each task its own ``max_t``; other keyword
    arguments go to every task's :class:`AsyncHyperBandScheduler`.
    """

    def __init__(self, max_t_by_task: dict[str, int] | None = None, **asha_kwargs: Any) -> None:
        super().__init__()
        self._asha_kwargs = asha_kwargs
        self._max_t_by_task = dict(max_t_by_task or {})
        self._metric = asha_kwargs["metric"]
        self._by_task: dict[str, AsyncHyperBandScheduler] = {}

    def _for(self, trial: Any) -> AsyncHyperBandScheduler:
        task = trial.config["task_name"]
        if task not in self._by_task:
            kwargs = dict(self._asha_kwargs)
            if task in self._max_t_by_task:
                kwargs["max_t"] = self._max_t_by_task[task]
            self._by_task[task] = AsyncHyperBandScheduler(**kwargs)
        return self._by_task[task]

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        self._for(trial).on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        return self._for(trial).on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict) -> None:
        self._for(trial).on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        self._for(trial).on_trial_remove(tune_controller, trial)

    def debug_string(self) -> str:
        return "\n".join(f"{task}: {asha.debug_string()}" for task, asha in self._by_task.items())


def make_scheduler(spec: SweepSpec) -> TrialScheduler:
    """FIFO, or ASHA per task over ``training_iteration`` (one evaluation per iteration)."""
    if spec.scheduler.type == "fifo":
        return FIFOScheduler()
    rounds = spec.rounds_by_task()
    return PerTaskASHA(
        max_t_by_task=rounds,
        time_attr="training_iteration",
        metric=spec.scheduler.metric,
        mode="max",
        max_t=max(rounds.values()),
        grace_period=spec.scheduler.grace_period,
        reduction_factor=spec.scheduler.reduction_factor,
    )


def storage_uri(storage: str) -> str:
    """``storage`` as Tune wants it: a URI (``s3://...``) as is, a local path made absolute."""
    if "://" in storage:
        return storage
    return str(Path(storage).expanduser().resolve())


def shared_trainable(spec: SweepSpec) -> type:
    """VGF with every distinct dataset of the sweep's tasks loaded here once and handed to the
    trials by reference (``tune.with_parameters``).

    Registered as :data:`SWEEP_TRAINABLE`, not "VGF": every process that imports vgf_rllib
    registers plain VGF as "VGF" in the job's Tune registry, so a trial restarted after a lost
    node would otherwise come back without the shared data (and read the source).
    """
    from vgf_rllib import VGF, VGFConfig
    from vgf_rllib.algorithm.data_setup import share_data

    configs = [VGFConfig().update_from_dict(spec.task_config(task)) for task in spec.tasks]
    trainable = tune.with_parameters(VGF, shared_data=share_data(configs))
    trainable.__name__ = SWEEP_TRAINABLE
    return trainable


def build_tuner(
    spec: SweepSpec,
    storage: str,
    max_concurrent: int | None = None,
    callbacks: list[tune.Callback] | None = None,
) -> tune.Tuner:
    """A fresh Tuner for ``spec`` writing to ``<storage>/<spec.name>`` (``callbacks``: Tune's)."""
    concurrent = spec.max_concurrent if max_concurrent is None else max_concurrent
    return tune.Tuner(
        shared_trainable(spec),
        param_space=param_space(spec),
        tune_config=tune.TuneConfig(
            num_samples=spec.num_samples,
            scheduler=make_scheduler(spec),
            max_concurrent_trials=concurrent or None,
        ),
        run_config=tune.RunConfig(
            name=spec.name,
            storage_path=storage_uri(storage),
            stop=TaskRounds(spec.rounds_by_task()),
            callbacks=callbacks,
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
            checkpoint_config=tune.CheckpointConfig(
                checkpoint_frequency=spec.checkpoint_frequency,
                num_to_keep=spec.checkpoints_to_keep,
                checkpoint_at_end=True,
            ),
            verbose=1,
        ),
    )


def experiment_path(spec: SweepSpec, storage: str) -> str:
    return f"{storage_uri(storage).rstrip('/')}/{spec.name}"


def write_metadata(spec: SweepSpec, path: str) -> None:
    """Record suite, tasks (name -> data, group, budget, schedule) and searched keys for the
    report."""
    import pyarrow.fs

    metadata = {
        "suite": spec.suite.name,
        "sweep": spec.name,
        "tasks": {
            t.name: {
                "name": t.name,
                "dataset": t.dataset,
                "input": t.rllib_input.get("input_"),
                "group": t.group,
                "training_steps": spec.budget(t).training_steps,
                "evaluations": spec.rounds(t),
                "eval_interval_steps": spec.task_config(t)["updates_per_iteration"],
            }
            for t in spec.tasks
        },
        "search": sorted(spec.search),
        "source": spec.source,
    }
    filesystem, root = pyarrow.fs.FileSystem.from_uri(path)
    filesystem.create_dir(root, recursive=True)
    with filesystem.open_output_stream(f"{root}/{METADATA_FILE}") as stream:
        stream.write(yaml.safe_dump(metadata, sort_keys=False).encode())


def missing_data(spec: SweepSpec) -> list[str]:
    """One line per task whose data is not on this machine, with the command that makes it."""
    lines = []
    for task in spec.tasks:
        missing = task.missing_data(spec.dataset_dir)
        if missing:
            names = ", ".join(str(path) for path in missing)
            lines.append(
                f"{task.name}: missing {names}\n"
                f"    get it with: {task.how_to_get_data(spec.dataset_dir)}"
            )
    return lines


def trial_resources(spec: SweepSpec) -> dict[str, float]:
    """Ray resources one trial reserves (RLlib's request for the first task's config)."""
    from vgf_rllib import VGF

    request = VGF.default_resource_request(spec.task_config(spec.tasks[0]))
    return {name: amount for name, amount in request.required_resources.items() if amount}


def run_sweep(
    spec: SweepSpec,
    storage: str,
    *,
    resume: bool = False,
    max_concurrent: int | None = None,
    callbacks: list[tune.Callback] | None = None,
) -> tune.ResultGrid:
    """Run (or, with ``resume``, continue) the sweep; returns Tune's results. ``callbacks``
    (Tune's, e.g. for logging) apply to a new sweep; a resumed one keeps its own."""
    path = experiment_path(spec, storage)
    if resume:
        if not tune.Tuner.can_restore(path):
            raise FileNotFoundError(f"no Tune experiment to resume at {path}")
        tuner = tune.Tuner.restore(
            path, trainable=shared_trainable(spec), resume_unfinished=True, resume_errored=True
        )
    else:
        if tune.Tuner.can_restore(path):
            raise FileExistsError(
                f"{path} already holds this sweep: resume it, or pick another name/storage"
            )
        write_metadata(spec, path)
        tuner = build_tuner(spec, storage, max_concurrent, callbacks)
    return tuner.fit()


def default_storage() -> str:
    """``$VGF_SWEEP_STORAGE`` or ``./runs/sweeps``."""
    return os.environ.get("VGF_SWEEP_STORAGE", "runs/sweeps")
