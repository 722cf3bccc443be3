"""Our side: trains ``vgf_rllib``'s VGF on the CPU with the mapped settings and evaluates every
L_test before the first update and after every ``--eval-interval`` updates."""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

from .report import report_progress
from .settings import TEST_FLOW_STEPS, our_overrides


def run_ours(
    args: argparse.Namespace, seed: int, data_dir: Path, success_timing: str | None
) -> dict[str, Any]:
    """One seed's learning curve, losses per interval and timing."""
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
