"""Side by side with the authors' VGF code at equal budget: same data, settings, seeds and steps.

Trains the authors' JAX implementation (a local checkout of https://github.com/ryanxhr/vgf,
given as ``--reference DIR``; nothing of it is copied here) and ours (``vgf_rllib``, PyTorch,
Ray RLlib) on the same OGBench single-task dataset files, then prints both learning curves
(success rate and return at every L_test in {0, 1, 2, 3}), the final scores and the training
throughput of each, and writes ``curves.csv``, ``losses.csv``, ``summary.json`` and
``curves.png`` under ``--output``.

The reference runs as a subprocess with the interpreter of its own environment
(``--reference-python``): its ``main.py`` with ``--agent=agents/vgf.py`` and the flags below,
started through a small launcher (in this file) that only
- points ``ogbench.make_env_and_datasets`` at ``--dataset-dir`` (nothing is downloaded: both
  files are checked first) and records the eval env's OGBench success timing and version,
- disables Weights & Biases (``wandb.init(mode="disabled")``; settings that a newer wandb
  rejects are dropped),
- stands in empty ``d4rl`` / ``gym`` modules when those are not installed (the reference
  imports them at module level; they are used for D4RL tasks only),
- times the reference's own evaluation calls and marks the time at the start of every
  evaluation interval, so that its updates/s exclude evaluation.
The reference's learning curve is read from the ``eval.csv`` it writes
(``evaluation_<L>/success``, ``evaluation_<L>/episode.return``).

Settings applied identically to both (reference flag <-> our ``VGFConfig`` field):
  N particles           --agent.vgf_particles            <-> num_particles
  L_train               --agent.train_vgf_steps          <-> train_flow_steps
  step size eps         --agent.vgf_lr                   <-> step_size (particle_optimizer=adam:
                                                             fresh Adam per transport call, both)
  alpha                 --agent.vgf_alpha                <-> alpha
  gamma                 --agent.discount                 <-> gamma
  hidden sizes          --agent.value_hidden_dims        <-> critic_hidden_layers
                        --agent.actor_hidden_dims        <-> sampler_hidden_layers
  Euler steps K         --agent.bc_flow_steps            <-> sampler_euler_steps
  batch size            --agent.batch_size               <-> train_batch_size_per_learner
  learning rates        --agent.value_lr, actor_lr       <-> critic_lr, sampler_lr
  tau                   --agent.tau                      <-> tau
  target twin agg       --agent.train_q_agg              <-> target_twin_agg (also selection scores)
  score twin agg        --agent.vgf_q_agg                <-> score_twin_agg
  particle agg          --agent.train_particle_select    <-> particle_agg
  selection             --agent.eval_particle_select=max <-> action_selection=argmax
  fixed in both         ReLU, LayerNorm (eps 1e-6) in the critics only, Xavier-uniform weights
                        and zero biases, flow loss averaged over rows and action dims, TD
                        critic loss (Q1 and Q2 against one target), no observation
                        normalization, no reward normalization (--normalize_r=0), dataset actions
                        clipped to +-(1 - 1e-5), L_test in {0, 1, 2, 3}
  data                  the same <dataset>.npz / <dataset>-val.npz in --dataset-dir, loaded in
                        both through ogbench.make_env_and_datasets (same rewards and masks)
  budget                --offline_steps / --eval_interval / --eval_episodes <-> the same numbers
  seed                  --seed=<s>                       <-> seed=<s>
  OGBench success timing: ours is set to the one the reference's eval env reports (ogbench 1.1.0,
                        the version the authors pin, only has "post"; >= 1.2 defaults to "pre").

What cannot be matched:
- Random streams: JAX PRNG vs torch; with the same seed the initial weights, minibatch order,
  flow noise and evaluation episodes differ. Compare curves over several seeds, not run by run.
- Evaluation episodes: the reference resets its eval env without a seed (episodes are not
  reproducible and differ per L_test); ours plays the same seeded episodes (seed + 10000 + e)
  at every L_test and every evaluation.
- Evaluation points: the reference evaluates after update 1 and then every --eval-interval
  updates; ours evaluates before the first update (step 0) and then at the same steps. The
  first row of each curve ("init") is therefore step 1 for the reference and step 0 for ours.
- Known algorithmic differences kept by our implementation (see docs/ and the tests): the
  reference differentiates its SVGD repulsion through the median-heuristic bandwidth (ours
  holds the bandwidth constant, textbook SVGD); the reference Polyak-updates the target critic
  from the pre-update critic weights (ours after the optimizer step). Its logged ``q_mean`` is
  Q1's mean; ours averages both twins.
- Threads: by default each library uses its own intra-op threading; ``--threads N`` caps both
  (torch.set_num_threads / XLA's intra_op_parallelism_threads). The two thread pools are not
  the same machinery, so updates/s compare implementations as shipped, not kernels.

Run (the reference in its own virtualenv, e.g. with jax, flax, optax, distrax, ml_collections,
absl-py, wandb, tqdm, matplotlib and the same ogbench version as ours):

    vgf-rllib data generate pointmaze-medium-navigate-v0 --episodes 100 --dir <data dir>
    python benchmarks/compare_reference.py --reference <reference checkout> \\
        --reference-python <reference venv>/bin/python --dataset-dir <data dir> \\
        --task pointmaze-medium-navigate-singletask-task3-v0 --steps 20000 \\
        --eval-interval 5000 --eval-episodes 10 --hidden 64 64 --threads 1 --seeds 0 \\
        --output runs/compare_reference

A pipeline check takes a few minutes: ``--steps 200 --eval-interval 100 --eval-episodes 1``.
On a 2-core CPU shared with other jobs, 64 x 64 networks train at roughly 15-30 updates/s in
either implementation, so the paper's 1M steps with 512 x 4 networks are out of reach here;
this script trains ours on the CPU (``num_gpus_per_learner=0``).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TEST_FLOW_STEPS = (0, 1, 2, 3)  # the reference evaluates exactly these (hard-coded in main.py)
IMPLS = ("reference", "ours")

# Runs inside the reference's interpreter, with the reference checkout as working directory.
# Environment: VGF_CMP_DATASET_DIR (OGBench files), VGF_CMP_INFO (JSON written by the launcher),
# VGF_CMP_MARK_EVERY (the launcher marks the start of update 1, 1 + m, 1 + 2m, ...);
# sys.argv[1:] are main.py's flags.
REFERENCE_LAUNCHER = r'''
import json, os, runpy, sys, time, types

info_path = os.environ["VGF_CMP_INFO"]
dataset_dir = os.environ["VGF_CMP_DATASET_DIR"]
mark_every = int(os.environ["VGF_CMP_MARK_EVERY"])
info = {"update_marks": [], "evals": [], "success_timing": None, "ogbench_version": None}


def dump():
    with open(info_path, "w") as f:
        json.dump(info, f)


os.environ["WANDB_MODE"] = "disabled"
import wandb

_wandb_init = wandb.init


def _wandb_init_disabled(*args, **kwargs):
    kwargs["mode"] = "disabled"
    return _wandb_init(*args, **kwargs)


wandb.init = _wandb_init_disabled
_wandb_settings = wandb.Settings


def _wandb_settings_lenient(*args, **kwargs):  # newer wandb rejects the reference's options
    try:
        return _wandb_settings(*args, **kwargs)
    except Exception:
        return _wandb_settings()


wandb.Settings = _wandb_settings_lenient

try:  # D4RL is imported at module level by the reference but used for D4RL tasks only
    import d4rl  # noqa: F401
except Exception:
    sys.modules["d4rl"] = types.ModuleType("d4rl")
try:
    import gym
    gym.envs.registry.all
except Exception:  # no gym, or a gym whose registry has no .all(): only D4RL needs it
    stub, stub_envs = types.ModuleType("gym"), types.ModuleType("gym.envs")
    stub_envs.registry = types.SimpleNamespace(all=lambda: [])
    stub.envs = stub_envs
    sys.modules["gym"], sys.modules["gym.envs"] = stub, stub_envs

import ogbench

_make = ogbench.make_env_and_datasets


def _make_local(name, *args, **kwargs):
    if not kwargs.get("env_only"):
        kwargs["dataset_dir"] = dataset_dir
    out = _make(name, *args, **kwargs)
    env = out if kwargs.get("env_only") else out[0]
    # ogbench < 1.2 has no success_timing option and judges success after the step
    info["success_timing"] = getattr(env.unwrapped, "_success_timing", "post")
    try:
        from importlib.metadata import version
        info["ogbench_version"] = version("ogbench")
    except Exception:
        pass
    dump()
    return out


ogbench.make_env_and_datasets = _make_local

import utils.evaluation as evaluation

_evaluate = evaluation.evaluate_vgf_multiple


def _timed_evaluate(*args, **kwargs):
    start = time.perf_counter()
    out = _evaluate(*args, **kwargs)
    info["evals"].append([start, time.perf_counter() - start])
    dump()
    return out


evaluation.evaluate_vgf_multiple = _timed_evaluate

from agents import agents

agent_class = agents["vgf"]
_update = agent_class.update
calls = [0]


def _marked_update(self, batch):
    calls[0] += 1
    if (calls[0] - 1) % mark_every == 0:
        info["update_marks"].append([calls[0], time.perf_counter()])
    return _update(self, batch)


agent_class.update = _marked_update

sys.argv = ["main.py"] + sys.argv[1:]
try:
    runpy.run_path("main.py", run_name="__main__")
finally:
    info["end"] = time.perf_counter()
    info["updates"] = calls[0]
    dump()
'''


# --------------------------------------------------------------------------------------------
# Settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reference", type=Path, help="local checkout of github.com/ryanxhr/vgf")
    parser.add_argument(
        "--reference-python",
        default="python",
        help="interpreter of the environment the reference runs in (default: python)",
    )
    parser.add_argument(
        "--task",
        default="pointmaze-medium-navigate-singletask-v0",
        help="OGBench single-task name (default: pointmaze-medium-navigate-singletask-v0)",
    )
    parser.add_argument(
        "--dataset-dir",
        type=Path,
        default=None,
        help="directory with <dataset>.npz and <dataset>-val.npz "
        "(default: $VGF_OGBENCH_DIR, else ~/.ogbench/data)",
    )
    parser.add_argument("--steps", type=int, default=2000, help="gradient steps (default 2000)")
    parser.add_argument(
        "--eval-interval", type=int, default=1000, help="gradient steps between evaluations"
    )
    parser.add_argument(
        "--eval-episodes", type=int, default=5, help="episodes per L_test and evaluation"
    )
    parser.add_argument(
        "--train-log-interval",
        type=int,
        default=100,
        help="the reference logs its losses every this many steps (one update's values); "
        "they are averaged per evaluation interval, as ours are (default 100)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--num-particles", type=int, default=10, help="N (default 10)")
    parser.add_argument("--train-flow-steps", type=int, default=1, help="L_train (default 1)")
    parser.add_argument("--step-size", type=float, default=0.1, help="eps (default 0.1)")
    parser.add_argument("--alpha", type=float, default=1.0, help="alpha (default 1.0)")
    parser.add_argument("--gamma", type=float, default=0.99, help="discount (default 0.99)")
    parser.add_argument(
        "--hidden",
        type=int,
        nargs="+",
        default=[512, 512, 512, 512],
        help="hidden sizes of the critics and the flow sampler (default 512 512 512 512)",
    )
    parser.add_argument("--euler-steps", type=int, default=10, help="K (default 10)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=3e-4, help="critic and sampler Adam lr")
    parser.add_argument("--tau", type=float, default=0.005)
    parser.add_argument("--target-twin-agg", choices=["min", "mean"], default="min")
    parser.add_argument("--score-twin-agg", choices=["min", "mean"], default="mean")
    parser.add_argument("--particle-agg", choices=["mean", "max"], default="mean")
    parser.add_argument(
        "--success-timing",
        choices=["auto", "pre", "post"],
        default="auto",
        help="OGBench success timing of our eval env; auto (default): the one the reference's "
        "eval env reports (ogbench's default when the reference is not run)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for each implementation's math (torch.set_num_threads for ours; "
        "XLA_FLAGS intra_op_parallelism_threads for the reference; OMP/MKL for both). "
        "Default: each library's own. Use 1 on a shared or oversubscribed CPU: torch's "
        "multi-threaded kernels slow down by 10-20x when their threads do not get a core",
    )
    parser.add_argument(
        "--only", choices=["both", *IMPLS], default="both", help="run one side only"
    )
    parser.add_argument(
        "--reuse-reference",
        action="store_true",
        help="reuse a reference run that finished in --output with exactly the same flags "
        "(for example to rerun ours alone after a change) instead of training it again",
    )
    parser.add_argument(
        "--output", type=Path, default=Path("runs/compare_reference"), help="output directory"
    )
    args = parser.parse_args(argv)
    if args.only != "ours" and args.reference is None:
        parser.error("--reference DIR is required (or --only ours)")
    if args.steps < 1 or args.eval_interval < 1 or args.steps % args.eval_interval:
        parser.error("--steps must be a positive multiple of --eval-interval")
    if args.eval_episodes < 1:
        parser.error("--eval-episodes must be >= 1")
    if not 1 <= args.train_log_interval <= args.eval_interval:
        parser.error("--train-log-interval must be in [1, --eval-interval]")
    return args


def dataset_dir(args: argparse.Namespace) -> Path:
    from vgf_rllib.data.ogbench_catalog import ogbench_dir

    return ogbench_dir(args.dataset_dir).expanduser().resolve()


def check_dataset(args: argparse.Namespace) -> Path:
    """Both files must exist locally (the reference's ogbench would otherwise download)."""
    from vgf_rllib.data.ogbench_catalog import dataset_files, parse_singletask_name

    parsed = parse_singletask_name(args.task)
    directory = dataset_dir(args)
    missing = [p for p in dataset_files(parsed.dataset, directory) if not p.is_file()]
    if missing:
        sys.exit(
            f"missing {[p.name for p in missing]} in {directory}: generate them with "
            f"`vgf-rllib data generate {parsed.dataset} --episodes N --dir {directory}`"
        )
    return directory


def reference_flags(args: argparse.Namespace, seed: int, save_dir: Path) -> list[str]:
    hidden = "(" + ", ".join(str(h) for h in args.hidden) + ")"
    return [
        f"--env_name=ogbench:{args.task}",
        f"--seed={seed}",
        f"--offline_steps={args.steps}",
        "--online_steps=0",
        f"--eval_interval={args.eval_interval}",
        f"--eval_episodes={args.eval_episodes}",
        f"--log_interval={args.train_log_interval}",
        f"--save_interval={args.steps + 1}",  # no checkpoints
        "--buffer_size=1",  # the buffer is sized to the dataset (it takes max(this, size + 1))
        "--normalize_r=0",
        f"--save_dir={save_dir}",
        "--project_name=compare_reference",
        f"--run_group=seed{seed}",
        "--agent=agents/vgf.py",
        f"--agent.discount={args.gamma}",
        f"--agent.batch_size={args.batch_size}",
        "--agent.activations=relu",
        f"--agent.actor_lr={args.lr}",
        f"--agent.value_lr={args.lr}",
        f"--agent.value_hidden_dims={hidden}",
        f"--agent.actor_hidden_dims={hidden}",
        "--agent.layer_norm=True",
        "--agent.actor_layer_norm=False",
        "--agent.critic_loss=td",
        f"--agent.tau={args.tau}",
        f"--agent.train_q_agg={args.target_twin_agg}",
        f"--agent.vgf_q_agg={args.score_twin_agg}",
        "--agent.bc_policy_type=flow",
        f"--agent.bc_flow_steps={args.euler_steps}",
        f"--agent.vgf_particles={args.num_particles}",
        f"--agent.train_particle_select={args.particle_agg}",
        "--agent.eval_particle_select=max",
        f"--agent.train_vgf_steps={args.train_flow_steps}",
        f"--agent.vgf_lr={args.step_size}",
        f"--agent.vgf_alpha={args.alpha}",
    ]


def our_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "num_particles": args.num_particles,
        "train_flow_steps": args.train_flow_steps,
        "step_size": args.step_size,
        "particle_optimizer": "adam",
        "alpha": args.alpha,
        "gamma": args.gamma,
        "critic_hidden_layers": list(args.hidden),
        "sampler_hidden_layers": list(args.hidden),
        "sampler_euler_steps": args.euler_steps,
        "train_batch_size_per_learner": args.batch_size,
        "critic_lr": args.lr,
        "sampler_lr": args.lr,
        "tau": args.tau,
        "target_twin_agg": args.target_twin_agg,
        "score_twin_agg": args.score_twin_agg,
        "particle_agg": args.particle_agg,
        "action_selection": "argmax",
        "test_flow_steps": list(TEST_FLOW_STEPS),
        "normalize_observations": False,
        "rescale_actions": False,
    }


# --------------------------------------------------------------------------------------------
# The reference


def run_reference(args: argparse.Namespace, seed: int, data_dir: Path) -> dict[str, Any]:
    run_dir = (args.output / "reference" / f"seed{seed}").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    info_path = run_dir / "launcher_info.json"
    env = dict(os.environ)
    env.update(
        VGF_CMP_DATASET_DIR=str(data_dir),
        VGF_CMP_INFO=str(info_path),
        VGF_CMP_MARK_EVERY=str(args.eval_interval),
        WANDB_MODE="disabled",
        WANDB_SILENT="true",
    )
    env.setdefault("MUJOCO_GL", "disable")
    if args.threads:
        eigen = "true" if args.threads > 1 else "false"
        env["XLA_FLAGS"] = (
            env.get("XLA_FLAGS", "") + f" --xla_cpu_multi_thread_eigen={eigen}"
            f" intra_op_parallelism_threads={args.threads}"
        ).strip()
    cmd = [args.reference_python, "-c", REFERENCE_LAUNCHER, *reference_flags(args, seed, run_dir)]
    command = "cd <reference checkout> && <reference python> -c <launcher> " + " ".join(cmd[3:])
    done_path = run_dir / "finished.json"  # written after a successful run, with its command
    finished = json.loads(done_path.read_text()) if done_path.is_file() else None
    if args.reuse_reference and finished and finished.get("command") == command:
        print(f"[reference seed {seed}] reusing the finished run in {run_dir}", flush=True)
        wall = finished["wall_s"]
    else:
        done_path.unlink(missing_ok=True)
        (run_dir / "command.txt").write_text(command + "\n")
        log_path = run_dir / "stdout.log"
        print(f"[reference seed {seed}] {args.steps} steps; log: {log_path}", flush=True)
        start = time.perf_counter()
        with log_path.open("w") as log:
            proc = subprocess.run(
                cmd,
                cwd=args.reference.resolve(),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            tail = log_path.read_text().splitlines()[-30:]
            sys.exit(f"the reference failed (exit {proc.returncode}); last lines of {log_path}:\n"
                     + "\n".join(tail))
        done_path.write_text(json.dumps({"command": command, "wall_s": wall}))
    eval_csvs = sorted(run_dir.rglob("eval.csv"), key=lambda p: p.stat().st_mtime)
    if not eval_csvs:
        sys.exit(f"the reference wrote no eval.csv under {run_dir}")
    info = json.loads(info_path.read_text())
    curve = read_reference_curve(eval_csvs[-1], seed)
    losses = read_reference_losses(eval_csvs[-1].with_name("train.csv"), seed, args)
    timing = reference_timing(info, args)
    timing["wall_s"] = wall
    return {
        "curve": curve,
        "losses": losses,
        "timing": timing,
        "success_timing": info.get("success_timing"),
        "ogbench_version": info.get("ogbench_version"),
        "eval_csv": str(eval_csvs[-1]),
    }


def _float(value: str | None) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def read_reference_curve(path: Path, seed: int) -> list[dict[str, Any]]:
    rows = []
    with path.open() as f:
        for row in csv.DictReader(f):
            step = int(float(row["step"]))
            for flow_steps in TEST_FLOW_STEPS:
                prefix = f"evaluation_{flow_steps}/"
                rows.append(
                    {
                        "impl": "reference",
                        "seed": seed,
                        "step": step,
                        "init": step == 1,
                        "L_test": flow_steps,
                        "success_rate": _float(row.get(prefix + "success")),
                        "return_mean": _float(row.get(prefix + "episode.return")),
                    }
                )
    return rows


def read_reference_losses(path: Path, seed: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The reference's logged losses (single updates), averaged per evaluation interval."""
    if not path.is_file():
        return []
    buckets: dict[int, list[dict[str, str]]] = {}
    with path.open() as f:
        for row in csv.DictReader(f):
            step = int(float(row["step"]))
            end = math.ceil(step / args.eval_interval) * args.eval_interval
            buckets.setdefault(end, []).append(row)
    rows = []
    for end in sorted(buckets):
        logged = buckets[end]
        rows.append(
            {
                "impl": "reference",
                "seed": seed,
                "step": end,
                "critic_loss": mean([_float(r.get("training/critic_loss")) for r in logged]),
                "q_mean": mean([_float(r.get("training/q_mean")) for r in logged]),
                # jnp.mean over batch and action dims: already per action dimension
                "flow_loss_per_dim": mean([_float(r.get("training/bc_loss")) for r in logged]),
            }
        )
    return rows


def reference_timing(info: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Training seconds per eval interval from the launcher's marks, without evaluation time."""
    marks = {int(n): t for n, t in info["update_marks"]}
    evals = info["evals"]
    bounds = [1 + k * args.eval_interval for k in range(args.steps // args.eval_interval)]
    times = [marks.get(b) for b in bounds] + [info["end"]]
    intervals = []
    for start, end in itertools.pairwise(times):
        if start is None or end is None:
            intervals.append(math.nan)
            continue
        inside = sum(d for s, d in evals if start <= s < end)
        intervals.append(end - start - inside)
    return {
        "interval_train_s": intervals,
        "eval_s": sum(d for _, d in evals),
        "updates": info.get("updates"),
    }


# --------------------------------------------------------------------------------------------
# Ours


def run_ours(args: argparse.Namespace, seed: int, data_dir: Path, success_timing: str | None):
    import ray

    from vgf_rllib import VGFConfig

    run_dir = (args.output / "ours" / f"seed{seed}").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    config = (
        VGFConfig()
        .environment(f"ogbench:{args.task}")
        .offline_dataset(dataset=f"ogbench:{args.task}", dataset_dir=str(data_dir))
        .training(updates_per_iteration=args.eval_interval)
        .test_time(eval_interval=0, eval_episodes=args.eval_episodes)
        .debugging(seed=seed)
        .learners(num_learners=0, num_gpus_per_learner=0)
        .apply_overrides(our_overrides(args))
    )
    if success_timing is not None:
        config.test_time(success_timing=success_timing)
    config.validate()
    ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
    print(f"[ours seed {seed}] {args.steps} steps", flush=True)
    start_wall = time.perf_counter()
    algo = config.build_algo()
    curve: list[dict[str, Any]] = []
    eval_s = 0.0
    used_timing: list[str | None] = [None]

    def evaluate(step: int) -> None:
        nonlocal eval_s
        t0 = time.perf_counter()
        result = algo.evaluate_test_time_budgets()
        eval_s += time.perf_counter() - t0
        for flow_steps in TEST_FLOW_STEPS:
            record = result[f"L{flow_steps}"]
            used_timing[0] = record.get("success_timing")
            curve.append(
                {
                    "impl": "ours",
                    "seed": seed,
                    "step": step,
                    "init": step == 0,
                    "L_test": flow_steps,
                    "success_rate": record.get("success_rate", math.nan),
                    "return_mean": record["return_mean"],
                }
            )
        report_progress("ours", seed, step, curve)

    evaluate(0)
    intervals = []
    losses = []
    for _ in range(args.steps // args.eval_interval):
        t0 = time.perf_counter()
        result = algo.train()
        intervals.append(time.perf_counter() - t0)
        step = int(result["num_gradient_updates_lifetime"])
        learner = result["learners"]["default_policy"]
        losses.append(
            {
                "impl": "ours",
                "seed": seed,
                "step": step,
                "critic_loss": float(learner["critic_loss"]),
                "q_mean": float(learner["q_mean"]),
                # averaged over rows and action dims, as the reference's bc_loss
                "flow_loss_per_dim": float(learner["flow_loss"]),
            }
        )
        evaluate(step)
    algo.stop()
    wall = time.perf_counter() - start_wall
    (run_dir / "curve.json").write_text(json.dumps(curve, indent=1))
    return {
        "curve": curve,
        "losses": losses,
        "timing": {"interval_train_s": intervals, "eval_s": eval_s, "wall_s": wall,
                   "updates": args.steps},
        "success_timing": used_timing[0],
    }


def report_progress(impl: str, seed: int, step: int, curve: list[dict[str, Any]]) -> None:
    rows = [r for r in curve if r["step"] == step]
    text = "  ".join(f"L{r['L_test']}: {fmt_pct(r['success_rate'])}" for r in rows)
    print(f"  [{impl} seed {seed}] step {step:>7}: success {text}", flush=True)


# --------------------------------------------------------------------------------------------
# Reporting


def fmt_pct(value: float) -> str:
    return "  n/a" if value is None or math.isnan(value) else f"{100 * value:5.1f}"


def mean(values: list[float]) -> float:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.fmean(values) if values else math.nan


def eval_points(rows: list[dict[str, Any]]) -> list[int]:
    """Evaluation points as steps, the initial evaluation (step 0 or 1) as 0."""
    return sorted({0 if r["init"] else r["step"] for r in rows})


def curve_table(rows: list[dict[str, Any]], metric: str, impls: list[str]) -> str:
    scale = 100.0 if metric == "success_rate" else 1.0
    width = 7
    header = f"{'step':>8} |" + " |".join(
        "".join(f"{impl[:3]} L{n}".rjust(width + 1) for n in TEST_FLOW_STEPS) for impl in impls
    )
    lines = [header, "-" * len(header)]
    for point in eval_points(rows):
        cells = []
        for impl in impls:
            block = ""
            for n in TEST_FLOW_STEPS:
                values = [
                    r[metric] for r in rows
                    if r["impl"] == impl and r["L_test"] == n
                    and (0 if r["init"] else r["step"]) == point
                ]
                value = mean(values)
                block += ("n/a" if math.isnan(value) else f"{scale * value:.1f}").rjust(width + 1)
            cells.append(block)
        label = "init" if point == 0 else str(point)
        lines.append(f"{label:>8} |" + " |".join(cells))
    return "\n".join(lines)


def final_table(rows: list[dict[str, Any]], steps: int, impls: list[str]) -> str:
    lines = [f"{'L_test':>6} | " + " | ".join(
        f"{impl + ' success %':>22} {impl + ' return':>22}" for impl in impls)]
    lines.append("-" * len(lines[0]))
    for n in TEST_FLOW_STEPS:
        cells = []
        for impl in impls:
            final = [
                r for r in rows if r["impl"] == impl and r["L_test"] == n and r["step"] == steps
            ]
            succ = [100 * r["success_rate"] for r in final]
            rets = [r["return_mean"] for r in final]
            cells.append(f"{mean_std(succ):>22} {mean_std(rets):>22}")
        lines.append(f"{n:>6} | " + " | ".join(cells))
    return "\n".join(lines)


def mean_std(values: list[float]) -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.fmean(values):.1f} +- {statistics.stdev(values):.1f} (n={len(values)})"


def throughput(timing: dict[str, Any], eval_interval: int) -> dict[str, float]:
    intervals = [t for t in timing["interval_train_s"] if not math.isnan(t)]
    total = sum(intervals)
    steady = intervals[1:]
    return {
        "updates_per_s": len(intervals) * eval_interval / total if total else math.nan,
        "steady_updates_per_s": (len(steady) * eval_interval / sum(steady)) if steady else math.nan,
        "train_s": total,
        "eval_s": timing["eval_s"],
        "wall_s": timing["wall_s"],
    }


CURVE_FIELDS = ["impl", "seed", "step", "init", "L_test", "success_rate", "return_mean"]
LOSS_FIELDS = ["impl", "seed", "step", "critic_loss", "q_mean", "flow_loss_per_dim"]


def loss_table(rows: list[dict[str, Any]], impls: list[str]) -> str:
    names = LOSS_FIELDS[3:]
    short = {"critic_loss": "critic", "q_mean": "Q mean", "flow_loss_per_dim": "flow/dim"}
    header = f"{'step':>8} |" + " |".join(
        "".join(f"{impl[:3]} {short[n]}".rjust(14) for n in names) for impl in impls
    )
    lines = [header, "-" * len(header)]
    for step in sorted({r["step"] for r in rows}):
        cells = []
        for impl in impls:
            block = ""
            for name in names:
                value = mean([r[name] for r in rows if r["impl"] == impl and r["step"] == step])
                block += ("n/a" if math.isnan(value) else f"{value:.4g}").rjust(14)
            cells.append(block)
        lines.append(f"{step:>8} |" + " |".join(cells))
    return "\n".join(lines)


def write_csv(rows: list[dict[str, Any]], path: Path, fields: list[str]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row[k] for k in fields})


def plot(
    rows: list[dict[str, Any]],
    loss_rows: list[dict[str, Any]],
    impls: list[str],
    title: str,
    path: Path,
) -> None:
    """Rows 1-2: success and return per L_test; row 3: the training losses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = len(TEST_FLOW_STEPS)
    fig, axes = plt.subplots(3, cols, figsize=(4 * cols, 9.5), squeeze=False)
    styles = {
        "reference": {"color": "tab:orange", "linestyle": "--", "marker": "s"},
        "ours": {"color": "tab:blue", "linestyle": "-", "marker": "o"},
    }

    def draw(ax, data: list[dict[str, Any]], metric: str, scale: float, impl: str) -> None:
        steps = sorted({r["step"] for r in data})
        per_step = [[scale * r[metric] for r in data if r["step"] == s] for s in steps]
        ax.plot(steps, [mean(v) for v in per_step], label=impl, **styles[impl])
        ax.fill_between(steps, [min(v) for v in per_step], [max(v) for v in per_step],
                        color=styles[impl]["color"], alpha=0.15)

    for col, n in enumerate(TEST_FLOW_STEPS):
        for row_i, (metric, label, scale) in enumerate(
            (("success_rate", "success (%)", 100.0), ("return_mean", "return", 1.0))
        ):
            ax = axes[row_i][col]
            for impl in impls:
                draw(ax, [r for r in rows if r["impl"] == impl and r["L_test"] == n],
                     metric, scale, impl)
            if row_i == 0:
                ax.set_title(f"L_test = {n}")
            if col == 0:
                ax.set_ylabel(label)
            ax.grid(alpha=0.3)
    for col, (metric, label) in enumerate(
        (("critic_loss", "critic loss"), ("q_mean", "Q mean"),
         ("flow_loss_per_dim", "flow loss per action dim"))
    ):
        ax = axes[2][col]
        for impl in impls:
            draw(ax, [r for r in loss_rows if r["impl"] == impl], metric, 1.0, impl)
        ax.set_title(label)
        ax.set_xlabel("gradient steps")
        ax.grid(alpha=0.3)
    for col in range(3, cols):
        axes[2][col].axis("off")
    axes[0][0].legend()
    fig.suptitle(title + "  (mean over seeds, band: min-max)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("MUJOCO_GL", "disable")
    if args.threads:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[name] = str(args.threads)  # inherited by the reference subprocess too
        import torch

        torch.set_num_threads(args.threads)
    data_dir = check_dataset(args)
    args.output.mkdir(parents=True, exist_ok=True)
    impls = list(IMPLS) if args.only == "both" else [args.only]
    rows: list[dict[str, Any]] = []
    loss_rows: list[dict[str, Any]] = []
    timings: dict[str, list[dict[str, Any]]] = {impl: [] for impl in impls}
    meta: dict[str, Any] = {"reference_success_timing": None, "reference_ogbench": None}
    for seed in args.seeds:
        if "reference" in impls:
            ref = run_reference(args, seed, data_dir)
            rows += ref["curve"]
            loss_rows += ref["losses"]
            timings["reference"].append(ref["timing"])
            meta["reference_success_timing"] = ref["success_timing"]
            meta["reference_ogbench"] = ref["ogbench_version"]
            for point in eval_points(ref["curve"]):
                step = 1 if point == 0 else point
                report_progress("reference", seed, step, ref["curve"])
        if "ours" in impls:
            timing = None if args.success_timing == "auto" else args.success_timing
            if timing is None:
                timing = meta["reference_success_timing"]
            ours = run_ours(args, seed, data_dir, timing)
            rows += ours["curve"]
            loss_rows += ours["losses"]
            timings["ours"].append(ours["timing"])
            meta["ours_success_timing"] = ours["success_timing"]

    if "ours" in impls:
        import ray

        ray.shutdown()
    from importlib.metadata import version

    meta["ours_ogbench"] = version("ogbench")
    write_csv(rows, args.output / "curves.csv", CURVE_FIELDS)
    write_csv(loss_rows, args.output / "losses.csv", LOSS_FIELDS)
    title = f"VGF on {args.task}: {args.steps} steps, hidden {args.hidden}, seeds {args.seeds}"
    plot(rows, loss_rows, impls, title, args.output / "curves.png")

    print(f"\n{title}")
    print(f"N={args.num_particles} L_train={args.train_flow_steps} eps={args.step_size} "
          f"alpha={args.alpha} gamma={args.gamma} K={args.euler_steps} batch={args.batch_size} "
          f"lr={args.lr} tau={args.tau} target/selection twin agg={args.target_twin_agg} "
          f"score twin agg={args.score_twin_agg} particle agg={args.particle_agg}; "
          f"{args.eval_episodes} episodes per L_test")
    import torch

    print(f"threads: {args.threads or 'library defaults'} (torch uses {torch.get_num_threads()})")
    print(f"ogbench: reference {meta['reference_ogbench']}, ours {meta['ours_ogbench']}; "
          f"success timing: reference {meta['reference_success_timing']}, "
          f"ours {meta.get('ours_success_timing') or 'ogbench default'}")
    if meta["reference_ogbench"] and meta["reference_ogbench"] != meta["ours_ogbench"]:
        print("WARNING: the two environments run different ogbench versions")
    print("\nSuccess rate (%) per L_test, mean over seeds (init: reference after update 1, "
          "ours before update 1)")
    print(curve_table(rows, "success_rate", impls))
    print("\nReturn per L_test, mean over seeds")
    print(curve_table(rows, "return_mean", impls))
    print("\nTraining losses, mean per evaluation interval (ours: every update; the reference: "
          f"the updates it logs, every {args.train_log_interval}); Q mean: ours over both "
          "twins, the reference Q1 only")
    print(loss_table(loss_rows, impls))
    print(f"\nFinal scores at step {args.steps} (mean +- std over seeds)")
    print(final_table(rows, args.steps, impls))

    summary: dict[str, Any] = {"args": {k: str(v) if isinstance(v, Path) else v
                                        for k, v in vars(args).items()}, **meta, "throughput": {}}
    print("\nTraining throughput (evaluation time excluded; steady: without the first interval, "
          "which holds JIT compilation / warm-up)")
    print(f"{'impl':<10}{'seed':>5}{'updates/s':>11}{'steady/s':>10}{'train s':>9}"
          f"{'eval s':>9}{'wall s':>9}")
    for impl in impls:
        summary["throughput"][impl] = []
        for seed, timing in zip(args.seeds, timings[impl], strict=True):
            t = throughput(timing, args.eval_interval)
            summary["throughput"][impl].append({"seed": seed, **t})
            print(f"{impl:<10}{seed:>5}{t['updates_per_s']:>11.1f}"
                  f"{t['steady_updates_per_s']:>10.1f}{t['train_s']:>9.0f}{t['eval_s']:>9.0f}"
                  f"{t['wall_s']:>9.0f}")
    (args.output / "summary.json").write_text(json.dumps(summary, indent=2))
    written = ("curves.csv", "losses.csv", "curves.png", "summary.json")
    print("\nwrote " + ", ".join(str(args.output / name) for name in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
