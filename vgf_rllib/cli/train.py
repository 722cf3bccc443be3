"""``vgf-rllib train``: train VGF on a dataset into a run directory, resumably.

Checkpoints are written atomically after every iteration by default (the last ``--keep-checkpoints``
plus the best-scoring one are kept), SIGINT/SIGTERM stop after the current iteration with a
checkpoint, and ``--resume RUN_DIR`` continues a killed or finished run exactly (docs/runs.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import yaml

from vgf_rllib.cli.output import budget_records, print_budget_table, report_error
from vgf_rllib.evaluation import EVAL_EPISODES, SUCCESS_TIMINGS

EPILOG = f"""\
VGF fields for --set (defaults from the authors' code; docs/algorithm.md, "Defaults"):
  variant=vgf|a-vgf  num_particles=10  step_size=0.1  alpha=1.0  train_flow_steps=1
  test_flow_steps=[0,1,2,3] (auto too: [0,1,2,3,auto])  max_test_flow_steps=5
  sampler_euler_steps=10  particle_optimizer=adam|sgd  score_twin_agg=mean|min
  target_twin_agg=min|mean  particle_agg=mean|max  action_selection=argmax|softmax|random
  selection_temperature=1.0  updates_per_iteration=1000  eval_interval=0
  eval_episodes={EVAL_EPISODES}  success_timing=null|pre|post (OGBench)
  critic_hidden_layers=[512,512,512,512]  sampler_hidden_layers=[512,512,512,512]
  critic_lr=3e-4  sampler_lr=3e-4  tau=0.005  inference_flow_steps=null
  kernel_bandwidth_gradient=false  target_update=post-step|pre-step (both: the authors' code)
  eval_num_particles=null  eval_step_size=null  normalize_observations=false
  precision=fp32|bf16  allow_tf32=true  compile_learner=true  compile_acting=false
  rescale_actions=false  dataset_dir=PATH
online fine-tuning (with --online-env-steps N): offline_updates=0  online_steps_per_iteration=1000
  online_sync_steps=null  online_warmup_steps=5000  updates_per_env_step=1.0  buffer_capacity=null  online_flow_steps=0
  num_env_runners=0
and RLlib's own, e.g. gamma=0.99  train_batch_size_per_learner=256  seed=0
  num_learners=0  num_gpus_per_learner=1  evaluation_num_env_runners=0 (k: evaluate on k EnvRunners).
Values are parsed as YAML: 3 -> int, 0.1 -> float, [0,1] -> list, true -> bool.
"""


def parse_value(text: str) -> Any:
    """A ``--set`` value as YAML, except that numbers YAML 1.1 reads as strings (``3e-4``,
    ``1e9``) become floats; YAML that does not parse raises ValueError."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as error:
        detail = " ".join(str(error).split())
        raise ValueError(f"cannot parse {text!r} as a value: {detail}") from error
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["key=value", ...]`` -> ``{key: value}``; malformed items raise ValueError."""
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects key=value, got {item!r}")
        try:
            overrides[key.strip()] = parse_value(value)
        except ValueError as error:
            raise ValueError(f"--set {item!r}: {error}") from error
    return overrides


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train VGF on an offline dataset (or resume a run)",
        description="Train VGF offline into a run directory (run.json, results.jsonl, "
        "tensorboard/, checkpoints/), then evaluate every L_test if an env is given. "
        "A killed or interrupted run continues with --resume RUN_DIR.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--dataset",
        help="a .npz/.parquet file, a Minari dataset dir, 'ogbench:<name>', "
        "'minari:<id>', 'random:<gym id>' (random actions, e.g. random:Pendulum-v1) or "
        "'demo:offset-bandit' (this or --input, unless --resume)",
    )
    parser.add_argument(
        "--input", nargs="+", metavar="PATH_OR_URI",
        help="RLlib offline input, as config.offline_data(input_=...): RLlib recordings or "
        "anything Ray Data reads, local paths or URIs (s3://, gs://, file://, ...); "
        "docs/data.md, 'RLlib recordings'",
    )
    parser.add_argument(
        "--input-read-method", default=None, metavar="METHOD",
        help="the ray.data reader for --input (default read_parquet; e.g. read_json)",
    )
    parser.add_argument(
        "--input-read-episodes", action="store_true", default=None,
        help="--input holds RLlib's episode layout (recorded with output_write_episodes=True)",
    )
    parser.add_argument(
        "--env",
        default=None,
        help="evaluation env: a gymnasium id (also 'module:Env-v0'), 'ogbench:<name>' or "
        "'minari:<id>'; omitted for suite datasets, it is the dataset's own env",
    )
    parser.add_argument(
        "--iterations", type=int, default=None,
        help="train() calls in total (default 10; with --resume: the run's own total)",
    )
    parser.add_argument(
        "--updates-per-iteration", type=int, default=None,
        help="gradient steps per iteration (default 1000)",
    )
    parser.add_argument(
        "--online-env-steps", type=int, default=None,
        help="env steps of online fine-tuning after the offline phase (default 0: offline "
        "only; the phase length is --set offline_updates=N; docs/algorithm.md)",
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="set any config field (repeatable; see the list below)",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--output", type=Path, help="run directory to create")
    target.add_argument(
        "--resume", type=Path, metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its newest complete checkpoint, with its settings",
    )
    parser.add_argument(
        "--overwrite", action="store_true",
        help="replace a run already in --output (refused otherwise)",
    )
    parser.add_argument(
        "--checkpoint-every", type=int, default=1,
        help="write a checkpoint every N iterations (default 1; the last iteration always)",
    )
    parser.add_argument(
        "--keep-checkpoints", type=int, default=2,
        help="keep the newest K checkpoints plus the best-scoring one (default 2)",
    )
    parser.add_argument(
        "--eval-episodes", type=int, default=None,
        help="episodes per L_test in the final evaluation (default: the config's eval_episodes, "
        f"{EVAL_EPISODES}; 0 skips it)",
    )
    parser.add_argument(
        "--success-timing", choices=SUCCESS_TIMINGS, default=None,
        help="OGBench envs only: judge success before ('pre', ogbench >= 1.2's default) or "
        "after ('post', ogbench 1.1.0 as the paper's authors) each step, in every evaluation "
        "(same as --set success_timing=...; default: ogbench's default)",
    )
    parser.set_defaults(func=run)


DEFAULT_ITERATIONS = 10
LOSS_KEYS = ("critic_loss", "flow_loss", "q_mean")
DEFAULT_UPDATES_PER_ITERATION = 1000
#: a CPU run expected to take longer than this says so, with the flags that shorten it
LONG_RUN_S = 600.0


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def long_run_note(*, expected_s: float, iteration_s: float) -> str | None:
    """The line a CPU run prints when, at the measured rate (``iteration_s`` per iteration), it
    is expected to take more than LONG_RUN_S in all."""
    if expected_s <= LONG_RUN_S:
        return None
    return (
        f"note: at {iteration_s:.3g} s per iteration on this CPU the run takes about "
        f"{_duration(expected_s)} in all; shorten it with --iterations or "
        "--updates-per-iteration, smaller networks (--set critic_hidden_layers=[64,64] "
        "--set sampler_hidden_layers=[64,64]), or train on a GPU (--set num_gpus_per_learner=1)"
    )


def _check_counts(args: argparse.Namespace) -> None:
    for flag, value, minimum in (
        ("--iterations", args.iterations, 1),
        ("--updates-per-iteration", args.updates_per_iteration, 1),
        ("--checkpoint-every", args.checkpoint_every, 1),
        ("--keep-checkpoints", args.keep_checkpoints, 1),
        ("--eval-episodes", args.eval_episodes, 0),
    ):
        if value is not None and value < minimum:
            raise ValueError(f"{flag} must be >= {minimum}, got {value}")


def new_run_info(args: argparse.Namespace) -> dict[str, Any]:
    """What ``run.json`` records of a new run: enough to rebuild its config on resume."""
    from vgf_rllib.data import default_eval_env

    if args.dataset and args.input:
        raise ValueError("--dataset and --input name two data sources; pass one of them")
    if not args.dataset and not args.input:
        raise ValueError("--dataset or --input is required (or pass --resume RUN_DIR)")
    if not args.input and (args.input_read_method or args.input_read_episodes):
        raise ValueError("--input-read-method and --input-read-episodes apply to --input only")
    data = {"dataset": args.dataset} if args.dataset else {
        "input": args.input,
        "input_read_method": args.input_read_method or "read_parquet",
        "input_read_episodes": bool(args.input_read_episodes),
    }
    return {
        **data,
        "env": args.env or (default_eval_env(args.dataset) if args.dataset else None),
        "overrides": args.overrides,
        "success_timing": args.success_timing,
        "iterations": args.iterations or DEFAULT_ITERATIONS,
        "updates_per_iteration": args.updates_per_iteration or DEFAULT_UPDATES_PER_ITERATION,
        "online_env_steps": args.online_env_steps or 0,
    }


def resumed_run_info(args: argparse.Namespace, recorded: dict[str, Any]) -> dict[str, Any]:
    """The recorded run, with only ``--iterations`` changeable; other differences are refused."""
    given = {
        "dataset": args.dataset,
        "input": args.input,
        "input_read_method": args.input_read_method,
        "input_read_episodes": args.input_read_episodes,
        "env": args.env,
        "overrides": args.overrides or None,
        "success_timing": args.success_timing,
        "updates_per_iteration": args.updates_per_iteration,
        "online_env_steps": args.online_env_steps,
    }
    for key, value in given.items():
        if value is not None and value != recorded.get(key):
            flag = "--set" if key == "overrides" else f"--{key.replace('_', '-')}"
            raise ValueError(
                f"--resume continues {args.resume} with its recorded settings: {flag} "
                f"{value!r} differs from the run's {recorded.get(key)!r} (start a new run with "
                "--output instead)"
            )
    return {**recorded, "iterations": args.iterations or recorded["iterations"]}


def build_config(info: dict[str, Any]) -> Any:
    """The VGFConfig a run's ``run.json`` describes (validated, nothing built yet)."""
    from vgf_rllib import VGFConfig

    config = VGFConfig()
    if info.get("input"):
        config.offline_data(
            input_=info["input"],
            input_read_method=info["input_read_method"],
            input_read_episodes=info["input_read_episodes"],
        )
    else:
        config.offline_dataset(dataset=info["dataset"])
    config = (
        config
        .training(updates_per_iteration=info["updates_per_iteration"])
        .online(online_env_steps=info.get("online_env_steps", 0))
        .apply_overrides(parse_overrides(info["overrides"]))
    )
    if info["env"]:
        config.environment(info["env"])
    if info["success_timing"] is not None:
        config.test_time(success_timing=info["success_timing"])
    config.validate()
    return config


def data_name(info: dict[str, Any]) -> str:
    """A run's data as its user named it: the dataset spec, or the RLlib input."""
    if info.get("input"):
        return ", ".join(info["input"])
    return str(info["dataset"])


def dataset_summary(algo: Any) -> dict[str, Any]:
    """Sizes and content hash that must match when a run resumes (changed data is refused)."""
    return {
        "transitions": algo.dataset_size,
        "fingerprint": algo.dataset_fingerprint,
        "observation_dim": int(algo.config.observation_space.shape[0]),
        "action_dim": int(algo.config.action_space.shape[0]),
    }


def run(args: argparse.Namespace) -> int:
    from vgf_rllib.cli.ray_session import needs_ray, ray_session
    from vgf_rllib.evaluation import evaluation_seed
    from vgf_rllib.run_dir import RunDir

    try:
        _check_counts(args)
        if args.resume:
            run_dir = RunDir.at(args.resume)
            if not run_dir.exists():
                raise ValueError(f"{args.resume}: no such run (no run.json); start one with --output")
            info = resumed_run_info(args, run_dir.read_info())
        else:
            run_dir = RunDir.at(args.output)
            if run_dir.exists() and not args.overwrite:
                raise ValueError(
                    f"{args.output} already holds a run; pass --resume {args.output} to continue "
                    "it, --overwrite to replace it, or choose another --output"
                )
            run_dir.check_writable()
            info = new_run_info(args)
        config = build_config(info)
    except ValueError as error:  # bad flag, --set value or run dir: nothing written yet
        return report_error(error)
    with ray_session(needs_ray(config)):
        try:
            algo = config.build_algo()  # loads and validates the dataset
            start = restore(algo, run_dir, info) if args.resume else 0
        except ValueError as error:
            return report_error(error)
        if not args.resume:
            if args.overwrite and run_dir.exists():  # only now: the new run has been built
                shutil.rmtree(run_dir.path)
            run_dir.write_info({
                **info,
                "dataset_summary": dataset_summary(algo),
                "evaluation_seed": evaluation_seed(algo.config.seed),
            })
        elif args.iterations:
            run_dir.write_info(info)  # the recorded run with its new total
        return train_and_evaluate(args, algo, run_dir, start=start)


def restore(algo: Any, run_dir: Any, info: dict[str, Any]) -> int:
    """Load the newest complete checkpoint into ``algo``; returns its iteration."""
    recorded, built = info.get("dataset_summary"), dataset_summary(algo)
    if recorded is not None and any(built[key] != value for key, value in recorded.items()):
        raise ValueError(
            f"{run_dir.path}: the data {data_name(info)} changed since the run started "
            f"(recorded {recorded}, now {built}); resume refused"
        )
    checkpoint = run_dir.latest_checkpoint()
    try:
        algo.restore_from_path(str(checkpoint))
    except Exception as error:  # torch/RLlib raise many types for shape mismatches
        raise ValueError(f"{checkpoint}: cannot restore ({type(error).__name__}: {error})") from error
    print(f"resuming {run_dir.path} from {checkpoint.name}")
    return int(algo.iteration)


class StopRequests:
    """SIGINT/SIGTERM handling: the first signal asks to stop after the current iteration
    (with a checkpoint); a second SIGINT aborts at once."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequests:
        for number in (signal.SIGINT, signal.SIGTERM):
            self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _handle(self, number: int, frame: Any) -> None:
        if self.signal_name and number == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(number).name
        print(
            f"\n{self.signal_name}: stopping after this iteration with a checkpoint "
            "(Ctrl-C again to abort without one)",
            file=sys.stderr,
        )

    @property
    def exit_code(self) -> int:
        return 128 + signal.Signals[self.signal_name].value if self.signal_name else 0


def best_score(result: dict[str, Any]) -> float | None:
    evaluation = result.get("vgf_eval")
    return float(evaluation["best_score"]) if evaluation else None


def train_and_evaluate(args: argparse.Namespace, algo: Any, run_dir: Any, *, start: int = 0) -> int:
    from tensorboardX import SummaryWriter
    from tqdm.auto import tqdm

    from vgf_rllib.algorithm.learner import NonFiniteLossError
    from vgf_rllib.compile_guard import shielded_children
    from vgf_rllib.run_dir import CheckpointError

    info = run_dir.read_info()
    total = info["iterations"]
    previous = run_dir.keep_results_through(start)
    elapsed = previous[-1]["time_s"] if previous else 0.0
    updates_before = (previous[-1].get("num_gradient_updates_lifetime") or 0) if previous else 0
    writer = SummaryWriter(str(run_dir.tensorboard_dir), purge_step=start + 1)
    began = time.time()
    # the first iteration of a process compiles the update step, so the rate is timed on the next
    timed_iteration = start + (2 if algo.config.compile_learner else 1)
    on_cpu = algo.config.num_gpus_per_learner == 0
    with StopRequests() as stops, run_dir.results_file.open("a") as log, tqdm(
        total=total, initial=start, desc="train", unit="it"
    ) as bar:
        for iteration in range(start + 1, total + 1):
            tick = time.time()
            # the compiling iteration's child processes (C++ compiler) ignore the terminal's Ctrl-C
            compiling = iteration < timed_iteration and algo.config.compile_learner
            try:
                with shielded_children() if compiling else nullcontext():
                    result = algo.train()
            except NonFiniteLossError as error:
                writer.close()
                algo.stop()
                try:
                    note = f"; last good checkpoint: {run_dir.latest_checkpoint()}"
                except CheckpointError:
                    note = "; no checkpoint written"
                return report_error(f"iteration {iteration}: {error}{note}")
            updates = result.get("num_gradient_updates_lifetime") or 0
            record = iteration_record(
                result, iteration, elapsed + time.time() - began,
                updates_per_s=(updates - updates_before) / max(time.time() - tick, 1e-9),
            )
            if on_cpu and iteration == timed_iteration < total:
                iteration_s = time.time() - tick
                note = long_run_note(
                    expected_s=elapsed + time.time() - began + (total - iteration) * iteration_s,
                    iteration_s=iteration_s,
                )
                if note:
                    bar.write(note, file=sys.stderr)
            updates_before = updates
            log.write(json.dumps(record) + "\n")
            log.flush()
            write_scalars(writer, record)
            bar.update(1)
            bar.set_postfix(progress_fields(record))
            if iteration == total or stops.signal_name or iteration % args.checkpoint_every == 0:
                try:
                    run_dir.save_checkpoint(algo.save_to_path, iteration, score=best_score(result))
                except CheckpointError as error:
                    writer.close()
                    algo.stop()
                    return report_error(error)
                run_dir.prune_checkpoints(args.keep_checkpoints)
            if stops.signal_name:
                writer.close()
                algo.stop()
                print(
                    f"stopped by {stops.signal_name} after iteration {iteration} of {total}; "
                    f"continue with: vgf-rllib train --resume {run_dir.path}",
                    file=sys.stderr,
                )
                return stops.exit_code
    writer.close()
    print(f"checkpoints, results.jsonl and tensorboard/ in {run_dir.path}")
    final_evaluation(args, algo, run_dir, info)
    algo.stop()
    return 0


def iteration_record(
    result: dict[str, Any], iteration: int, time_s: float, *, updates_per_s: float
) -> dict[str, Any]:
    """One ``results.jsonl`` line: counts, speed, losses of the iteration (none in an online
    warm-up iteration without gradient steps), its evaluation if any."""
    record = {
        "iteration": iteration,
        "num_gradient_updates_lifetime": result.get("num_gradient_updates_lifetime"),
        "time_s": round(time_s, 2),
        "updates_per_s": round(updates_per_s, 1),
    }
    if "num_online_env_steps_lifetime" in result:
        record["num_online_env_steps_lifetime"] = result["num_online_env_steps_lifetime"]
    losses = result.get("learners", {}).get("default_policy", {})
    record.update({key: float(losses[key]) for key in LOSS_KEYS if key in losses})
    if "vgf_eval" in result:
        record["vgf_eval"] = result["vgf_eval"]
    return record


def progress_fields(record: dict[str, Any]) -> dict[str, str]:
    """The progress bar's postfix: losses (when the iteration had gradient steps), speed,
    collected env steps (online)."""
    fields = {name: f"{record[key]:.3g}" for name, key in (("critic", "critic_loss"), ("flow", "flow_loss")) if key in record}
    fields["upd_s"] = f"{record['updates_per_s']:.0f}"
    if "num_online_env_steps_lifetime" in record:
        fields["env_steps"] = str(record["num_online_env_steps_lifetime"])
    return fields


def write_scalars(writer: Any, record: dict[str, Any]) -> None:
    """The record's losses, speed and evaluation scores as TensorBoard scalars."""
    step = record["iteration"]
    for key in (*LOSS_KEYS, "updates_per_s", "num_online_env_steps_lifetime"):
        if key in record:
            writer.add_scalar(f"train/{key}", record[key], step)
    for name, budget in (record.get("vgf_eval") or {}).items():
        if isinstance(budget, dict):
            writer.add_scalar(f"eval/{name}/score_mean", budget["score_mean"], step)
    writer.flush()


def final_evaluation(args: argparse.Namespace, algo: Any, run_dir: Any, info: dict[str, Any]) -> None:
    """Score the final weights at every L_test into ``evaluation.json`` (same schema as
    ``vgf-rllib evaluate --output``) and print the table."""
    from vgf_rllib.evaluation import acting_settings, evaluation_document, evaluation_seed
    from vgf_rllib.run_dir import write_json_atomically

    env = info["env"]
    episodes = algo.config.eval_episodes if args.eval_episodes is None else args.eval_episodes
    if not env:
        print(
            f"not evaluated: {data_name(info)} names no env; pass --env ENV to train, or run "
            f"`vgf-rllib evaluate {run_dir.path} --env ENV`"
        )
    if not env or episodes == 0:
        return
    entry = algo.evaluate_test_time_budgets(episodes=episodes, show_progress=True)
    timings = {r.get("success_timing") for r in budget_records(entry)} - {None}
    timing = timings.pop() if timings else None  # OGBench envs
    acting = acting_settings(
        algo.get_policy_module(), num_particles=algo.config.eval_num_particles,
        step_size=algo.config.eval_step_size,
    )
    document = evaluation_document(
        entry, checkpoint=str(run_dir.latest_checkpoint()), env=env, success_timing=timing,
        seed=evaluation_seed(algo.config.seed), **acting,
    )
    write_json_atomically(run_dir.evaluation_file, document)
    suffix = f", success_timing={timing}" if timing else ""
    print_budget_table(
        entry, title=f"VGF on {data_name(info)} (env {env}{suffix})",
        num_particles=acting["num_particles"],
    )
