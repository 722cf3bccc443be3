"""The reference side: runs the authors' ``main.py`` through ``launcher.py`` in the reference's own
interpreter (``--reference-python``, working directory ``--reference``) and reads its learning
curve (``eval.csv``: ``evaluation_<L>/success``, ``evaluation_<L>/episode.return``), its logged
losses (``train.csv``) and the launcher's timing marks."""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .report import mean
from .settings import TEST_FLOW_STEPS, reference_flags

LAUNCHER = Path(__file__).with_name("launcher.py")


def reference_environment(args: argparse.Namespace, data_dir: Path, info_path: Path) -> dict[str, str]:
    """The subprocess's environment: the launcher's settings, no wandb, the thread cap."""
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
    return env


def run_reference(args: argparse.Namespace, seed: int, data_dir: Path) -> dict[str, Any]:
    """Trains one seed (or reuses its finished run, ``--reuse-reference``) and reads its outputs."""
    run_dir = (args.output / "reference" / f"seed{seed}").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    info_path = run_dir / "launcher_info.json"
    cmd = [args.reference_python, str(LAUNCHER), *reference_flags(args, seed, run_dir)]
    command = "cd <reference checkout> && <reference python> <launcher> " + " ".join(cmd[2:])
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
                env=reference_environment(args, data_dir, info_path),
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
    timing = reference_timing(info, args)
    timing["wall_s"] = wall
    return {
        "curve": read_reference_curve(eval_csvs[-1], seed),
        "losses": read_reference_losses(eval_csvs[-1].with_name("train.csv"), seed, args),
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
    """Success rate and return per evaluation and L_test; the first evaluation is after update 1."""
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
