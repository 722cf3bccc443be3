"""``vgf-rllib train``: train VGF on a dataset, checkpoint, log results, evaluate at the end."""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from vgf_rllib.cli.output import budget_records, print_budget_table, report_error
from vgf_rllib.evaluation import EVAL_EPISODES, SUCCESS_TIMINGS

EPILOG = f"""\
VGF fields for --set (defaults from the authors' code; docs/algorithm.md, "Defaults"):
  num_particles=10  step_size=0.1  alpha=1.0  train_flow_steps=1  test_flow_steps=[0,1,2,3]
  sampler_euler_steps=10  particle_optimizer=adam|sgd  score_twin_agg=mean|min
  target_twin_agg=min|mean  particle_agg=mean|max  action_selection=argmax|softmax|random
  selection_temperature=1.0  updates_per_iteration=1000  eval_interval=0
  eval_episodes={EVAL_EPISODES}  success_timing=null|pre|post (OGBench)
  critic_hidden_layers=[512,512,512,512]  sampler_hidden_layers=[512,512,512,512]
  critic_lr=3e-4  sampler_lr=3e-4  tau=0.005  inference_flow_steps=null
  eval_num_particles=null  eval_step_size=null  normalize_observations=false
  rescale_actions=false  dataset_dir=PATH
and RLlib's own, e.g. gamma=0.99  train_batch_size_per_learner=256  seed=0
  num_learners=0  num_gpus_per_learner=1.
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
        help="train VGF on an offline dataset",
        description="Train VGF offline; writes checkpoints, results.jsonl and run.json "
        "under --output, then evaluates every L_test if an env is given.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--dataset",
        required=True,
        help="a .npz/.parquet file, a Minari dataset dir, 'ogbench:<name>', "
        "'minari:<id>' or 'demo:offset-bandit'",
    )
    parser.add_argument(
        "--env",
        default=None,
        help="evaluation env: a gymnasium id (also 'module:Env-v0'), 'ogbench:<name>' or "
        "'minari:<id>'; omitted for suite datasets, it is the dataset's own env",
    )
    parser.add_argument("--iterations", type=int, default=10, help="train() calls (default 10)")
    parser.add_argument(
        "--updates-per-iteration",
        type=int,
        default=1000,
        help="gradient steps per iteration (default 1000)",
    )
    parser.add_argument(
        "--online-env-steps",
        type=int,
        default=0,
        help="env steps of online fine-tuning after the offline phase (default 0: offline "
        "only; the phase length is --set offline_updates=N; docs/algorithm.md)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set any config field (repeatable; see the list below)",
    )
    parser.add_argument("--output", required=True, type=Path, help="run directory to write")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a run already in --output (refused otherwise)",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        help="save a checkpoint every N iterations (default 0: only the final one)",
    )
    parser.add_argument(
        "--eval-episodes",
        type=int,
        default=None,
        help="episodes per L_test in the final evaluation (default: the config's eval_episodes, "
        f"{EVAL_EPISODES}; 0 skips it)",
    )
    parser.add_argument(
        "--success-timing",
        choices=SUCCESS_TIMINGS,
        default=None,
        help="OGBench envs only: judge success before ('pre', ogbench >= 1.2's default) or "
        "after ('post', ogbench 1.1.0 as the paper's authors) each step, in every evaluation "
        "(same as --set success_timing=...; default: ogbench's default)",
    )
    parser.set_defaults(func=run)


def default_env_for(dataset: str) -> str | None:
    """Suite datasets name their own eval env (``ogbench:x`` -> ``ogbench:x``, demo tasks
    their gym id)."""
    from vgf_rllib.demo import demo_env_spec

    if demo_env := demo_env_spec(dataset):
        return demo_env
    if dataset.startswith(("ogbench:", "minari:")):
        return dataset
    return None


def holds_run(output: Path) -> bool:
    """Whether ``output`` already holds a training run."""
    from vgf_rllib.policy import RUN_INFO_FILE

    return (output / RUN_INFO_FILE).exists()


def refuse_existing_run(output: Path, *, overwrite: bool) -> None:
    """Refuse to train into a folder that holds a run unless ``overwrite`` (mixing two runs'
    checkpoints would make ``evaluate`` load the older run's weights)."""
    if holds_run(output) and not overwrite:
        raise ValueError(
            f"{output} already holds a run; pass --overwrite to replace it "
            "or choose another --output"
        )


def run(args: argparse.Namespace) -> int:
    import ray

    from vgf_rllib import VGFConfig

    env = args.env or default_env_for(args.dataset)
    try:
        refuse_existing_run(args.output, overwrite=args.overwrite)
        config = (
            VGFConfig()
            .offline_dataset(dataset=args.dataset)
            .training(updates_per_iteration=args.updates_per_iteration)
            .online(online_env_steps=args.online_env_steps)
            .apply_overrides(parse_overrides(args.overrides))
        )
        if env:
            config.environment(env)
        if args.success_timing is not None:
            config.test_time(success_timing=args.success_timing)
        if args.eval_episodes is not None and args.eval_episodes < 0:
            raise ValueError(f"--eval-episodes must be >= 0, got {args.eval_episodes}")
        config.validate()
        ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
        algo = config.build_algo()  # loads and validates the dataset
    except ValueError as error:  # bad --set value, dataset or env: nothing written yet
        return report_error(error)
    return train_and_evaluate(args, algo, env)


def train_and_evaluate(args: argparse.Namespace, algo: Any, env: str | None) -> int:
    from tqdm.auto import tqdm

    from vgf_rllib.algorithm.learner import NonFiniteLossError
    from vgf_rllib.policy import (
        CHECKPOINTS_SUBDIR,
        RUN_INFO_FILE,
        CheckpointError,
        latest_checkpoint,
    )

    output: Path = args.output
    if args.overwrite and holds_run(output):  # only now: the new run has been built
        shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)
    info = {"dataset": args.dataset, "env": env, "overrides": args.overrides}
    if algo.config.success_timing is not None:
        info["success_timing"] = algo.config.success_timing
    (output / RUN_INFO_FILE).write_text(json.dumps(info, indent=2))
    results_path = output / "results.jsonl"
    start = time.time()
    with results_path.open("w") as log, tqdm(range(args.iterations), desc="train", unit="it") as bar:
        for iteration in bar:
            try:
                result = algo.train()
            except NonFiniteLossError as error:
                algo.stop()
                try:
                    note = f"; last good checkpoint: {latest_checkpoint(output)}"
                except CheckpointError:
                    note = "; no checkpoint written"
                return report_error(f"iteration {iteration + 1}: {error}{note}")
            losses = result["learners"]["default_policy"]
            record = {
                "iteration": iteration + 1,
                "num_gradient_updates_lifetime": result["num_gradient_updates_lifetime"],
                "time_s": round(time.time() - start, 2),
                **{k: float(losses[k]) for k in ("critic_loss", "flow_loss", "q_mean")},
            }
            if "vgf_eval" in result:
                record["vgf_eval"] = result["vgf_eval"]
            log.write(json.dumps(record) + "\n")
            log.flush()
            bar.set_postfix(critic=f"{record['critic_loss']:.3g}", flow=f"{record['flow_loss']:.3g}")
            last = iteration + 1 == args.iterations
            if last or (args.checkpoint_every and (iteration + 1) % args.checkpoint_every == 0):
                algo.save_to_path(str((output / CHECKPOINTS_SUBDIR / f"iter_{iteration + 1:06d}").resolve()))
    print(f"checkpoints and results.jsonl in {output}")
    episodes = algo.config.eval_episodes if args.eval_episodes is None else args.eval_episodes
    if env and episodes > 0:
        evaluation = algo.evaluate_test_time_budgets(episodes=episodes, show_progress=True)
        (output / "evaluation.json").write_text(json.dumps(evaluation, indent=2))
        timings = {r.get("success_timing") for r in budget_records(evaluation)} - {None}
        suffix = f", success_timing={timings.pop()}" if timings else ""  # OGBench envs
        print_budget_table(evaluation, title=f"VGF on {args.dataset} (env {env}{suffix})")
    algo.stop()
    return 0
