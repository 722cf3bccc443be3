"""``vgf-rllib sweep``: run a tune_configs/*.yaml sweep as a Ray Tune experiment."""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vgf_rllib.experiments.sweep_files import SweepSpec


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="run a hyperparameter sweep over a suite (Ray Tune)",
        description="Run a sweep file (tune_configs/*.yaml) as one Ray Tune experiment; "
        "report it afterwards with `vgf-rllib report <storage>/<name>`.",
    )
    parser.add_argument("tune_config", help="sweep YAML file, e.g. tune_configs/smoke.yaml")
    parser.add_argument(
        "--address",
        help="Ray cluster to join, e.g. 'auto' or '<head>:6379' (default: Ray's choice: "
        "$RAY_ADDRESS, else the latest `ray start` cluster here, else a new local Ray)",
    )
    parser.add_argument("--max-concurrent", type=int, help="at most this many trials at once")
    parser.add_argument(
        "--storage", help="results folder or URI (default: $VGF_SWEEP_STORAGE or runs/sweeps)"
    )
    parser.add_argument(
        "--name", help="experiment name (default: the file's `name`, else its stem)"
    )
    parser.add_argument(
        "--tasks", nargs="+", metavar="TASK", help="run only these tasks of the suite"
    )
    parser.add_argument("--resume", action="store_true", help="continue an interrupted sweep")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    parser.set_defaults(func=run)


def _grid_size(spec: SweepSpec) -> int:
    return math.prod(len(dim.values) for dim in spec.search.values() if dim.kind == "grid")


def _print_plan(spec: SweepSpec, storage: str) -> None:
    from vgf_rllib import VGFConfig
    from vgf_rllib.experiments.sweep import experiment_path, trial_resources

    per_task = _grid_size(spec) * spec.num_samples
    print(
        f"suite {spec.suite.name}: {len(spec.tasks)} task(s) x {per_task} trial(s) = "
        f"{len(spec.tasks) * per_task}"
    )
    for task in spec.tasks:
        steps = spec.budget(task).training_steps
        interval = spec.task_config(task)["updates_per_iteration"]
        print(
            f"  {task.name}: {steps} steps, {spec.rounds(task)} evaluation(s), "
            f"every {interval} steps"
        )
    for key, dim in spec.search.items():
        print(f"  search {key}: {dim.kind} {list(dim.values)}")
    config = VGFConfig().update_from_dict(spec.task_config(spec.tasks[0]))
    print(
        f"  each iteration trains one round, then evaluates {config.eval_episodes} episode(s) "
        f"at every L_test in {config.test_flow_steps}"
    )
    print(f"  scheduler {spec.scheduler.type}; per trial {trial_resources(spec)}")
    print(f"  experiment folder: {experiment_path(spec, storage)}")


def print_score_summary(experiment_path: str) -> None:
    """The best score of each task, or why there is none yet."""
    from vgf_rllib.experiments.reporting import ReportError, score_summary

    try:
        print("\n" + score_summary(experiment_path) + "\n")
    except ReportError as error:
        print(f"no scores to summarize: {error}")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from vgf_rllib.experiments.suites import SuiteError
    from vgf_rllib.experiments.sweep import default_storage, missing_data, run_sweep
    from vgf_rllib.experiments.sweep_files import SweepConfigError, load_sweep

    try:
        spec = load_sweep(args.tune_config)
        if args.tasks:
            spec = replace(spec, tasks=spec.suite.select(args.tasks))
    except (SweepConfigError, SuiteError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.name:
        spec = replace(spec, name=args.name)
    storage = args.storage or default_storage()
    _print_plan(spec, storage)
    missing = missing_data(spec)
    if missing:
        print(
            "error: datasets not found (the sweep loads every dataset here, once, and shares it "
            "with the trials through Ray's object store):",
            file=sys.stderr,
        )
        print("\n".join(f"  {line}" for line in missing), file=sys.stderr)
        return 2
    if args.dry_run:
        return 0
    if args.resume and args.max_concurrent is not None:
        print("note: --max-concurrent does not apply to a resumed experiment", file=sys.stderr)
    if args.address:
        import ray

        ray.init(address=args.address)
    try:
        results = run_sweep(spec, storage, resume=args.resume, max_concurrent=args.max_concurrent)
    except (FileNotFoundError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # finished: stopped by its budget or the scheduler (Tune marks that result `done`)
    finished = sum(bool((result.metrics or {}).get("done")) for result in results)
    failed = results.num_errors
    print(
        f"{finished} of {len(results)} trial(s) finished, {failed} failed; "
        f"results in {results.experiment_path}"
    )
    print_score_summary(results.experiment_path)
    print(f"full report (tables, figures, paper numbers): vgf-rllib report {results.experiment_path}")
    if finished + failed < len(results):
        print("interrupted: continue with the same command plus --resume", file=sys.stderr)
    return 0 if finished == len(results) else 1
