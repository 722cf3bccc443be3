"""``vgf-rllib evaluate``: score a checkpoint at several test-time budgets L_test.

See docs/algorithm.md, "Acting and the test-time budget".
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from vgf_rllib.cli.output import print_budget_table, report_error
from vgf_rllib.evaluation import AUTO_BUDGET, EVAL_EPISODES, SUCCESS_TIMINGS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a checkpoint at several test-time budgets",
        description="Evaluate one checkpoint at every L_test given, on the same episodes, "
        "without retraining. N and the step size can be changed too.",
    )
    parser.add_argument("checkpoint", type=Path, help="run dir (latest checkpoint), algorithm checkpoint or RLModule dir")
    parser.add_argument("--env", default=None, help="evaluation env spec (default: the run's env from run.json)")
    parser.add_argument(
        "--test-flow-steps", type=flow_steps, nargs="+", default=[0, 1, 2, 3], metavar="L",
        help=f"L_test values to score (default 0 1 2 3; 0 = best-of-N; '{AUTO_BUDGET}': per state, "
        "transport while a step's value gain exceeds the twin critics' disagreement)",
    )
    parser.add_argument(
        "--max-test-flow-steps", type=int, default=None, metavar="L",
        help=f"most steps of the '{AUTO_BUDGET}' budget (default: the run's max_test_flow_steps)",
    )
    parser.add_argument(
        "--episodes", type=int, default=EVAL_EPISODES,
        help=f"episodes per L_test (default {EVAL_EPISODES}, the paper's protocol)",
    )
    parser.add_argument("--num-particles", type=int, default=None, help="N at test time (default: trained N)")
    parser.add_argument("--step-size", type=float, default=None, help="eps at test time (default: trained eps)")
    parser.add_argument(
        "--seed", type=int, default=None,
        help="first env seed of the evaluation episodes (default: the run's own evaluation seed, "
        "10000 + its training seed, so the numbers match its evaluation.json)",
    )
    parser.add_argument(
        "--success-timing", choices=SUCCESS_TIMINGS, default=None,
        help="OGBench envs only: judge success before ('pre', ogbench >= 1.2's default) or after "
        "('post', ogbench 1.1.0 as the paper's authors) each step (default: the run's setting "
        "from run.json, else ogbench's default); the records name the timing used",
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device to act on, e.g. 'cuda' (default: cpu)"
    )
    parser.add_argument("--output", type=Path, default=None, help="write the records to this JSON file")
    parser.set_defaults(func=run)


def flow_steps(text: str) -> int | str:
    """An ``--test-flow-steps`` value: an int or "auto"."""
    if text == AUTO_BUDGET:
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an int >= 0 or '{AUTO_BUDGET}', got {text!r}"
        ) from None


def run(args: argparse.Namespace) -> int:
    if any(steps != AUTO_BUDGET and steps < 0 for steps in args.test_flow_steps):
        return report_error(f"--test-flow-steps must be >= 0, got {args.test_flow_steps}")
    if args.step_size is not None and not (math.isfinite(args.step_size) and args.step_size > 0):
        return report_error(f"--step-size must be a finite number > 0, got {args.step_size}")
    if args.num_particles is not None and args.num_particles < 1:
        return report_error(f"--num-particles must be >= 1, got {args.num_particles}")
    if args.max_test_flow_steps is not None and args.max_test_flow_steps < 1:
        return report_error(f"--max-test-flow-steps must be >= 1, got {args.max_test_flow_steps}")
    if args.episodes < 1:
        return report_error(f"--episodes must be >= 1, got {args.episodes}")
    if (problem := device_problem(args.device)) is not None:
        return report_error(f"--device {args.device!r}: {problem}")
    try:
        return evaluate_checkpoint(args)
    except ValueError as error:  # bad checkpoint, env spec or test-time setting
        return report_error(error)


def device_problem(name: str) -> str | None:
    """Why torch cannot act on device ``name`` here, or None when it can."""
    import torch

    try:
        device = torch.device(name)
    except RuntimeError as error:
        return str(error)
    if device.type == "cuda" and not torch.cuda.is_available():
        return "torch sees no CUDA GPU on this machine"
    if device.type not in ("cpu", "cuda"):
        return "only 'cpu' and 'cuda[:N]' are supported"
    return None


def evaluate_checkpoint(args: argparse.Namespace) -> int:
    from vgf_rllib.evaluation import (
        acting_settings,
        evaluate_budgets,
        evaluation_document,
        evaluation_seed,
        results_by_budget,
    )
    from vgf_rllib.policy import load_policy, run_info
    from vgf_rllib.run_dir import write_json_atomically

    if not args.checkpoint.exists():
        return report_error(f"{args.checkpoint}: no such run or checkpoint")
    info = run_info(args.checkpoint)
    env = args.env or info.get("env")
    if not env:
        return report_error(f"{args.checkpoint}: its run.json names no env (trained without one); pass --env")
    success_timing = args.success_timing
    if success_timing is None and env == info.get("env"):
        success_timing = info.get("success_timing")  # what the run was evaluated with
    seed = args.seed if args.seed is not None else info.get("evaluation_seed", evaluation_seed(None))
    module = load_policy(args.checkpoint).to(args.device)
    results = evaluate_budgets(
        module, env, args.test_flow_steps, args.episodes,
        num_particles=args.num_particles, step_size=args.step_size, seed=seed,
        show_progress=True, success_timing=success_timing, max_flow_steps=args.max_test_flow_steps,
    )
    entry = results_by_budget(results)
    used = results[0].success_timing
    timing = f" (success_timing={used})" if used else ""
    acting = acting_settings(module, num_particles=args.num_particles, step_size=args.step_size)
    print_budget_table(
        entry, title=f"{args.checkpoint} on {env}{timing}", num_particles=acting["num_particles"]
    )
    if args.output:
        document = evaluation_document(
            entry, checkpoint=str(args.checkpoint), env=env, success_timing=used, seed=seed,
            max_test_flow_steps=args.max_test_flow_steps, **acting,
        )
        try:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomically(args.output, document)
        except OSError as error:  # keep the computed records: print them instead
            print(json.dumps(document, indent=2))
            return report_error(f"cannot write {args.output} ({error}); the records are printed above")
        print(f"wrote {args.output}")
    return 0
