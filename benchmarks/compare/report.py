"""Tables printed at the end of a comparison, the throughput of each run, and the CSV writer."""

from __future__ import annotations

import argparse
import csv
import math
import statistics
from pathlib import Path
from typing import Any

from .settings import IMPLS, TEST_FLOW_STEPS
from .stats import mean_se, paired_difference, verdict

CURVE_FIELDS = ["impl", "seed", "step", "init", "L_test", "success_rate", "return_mean"]
LOSS_FIELDS = ["impl", "seed", "step", "critic_loss", "q_mean", "flow_loss_per_dim"]


def fmt_pct(value: float) -> str:
    return "  n/a" if value is None or math.isnan(value) else f"{100 * value:5.1f}"


def mean(values: list[float]) -> float:
    """Mean of the finite values (NaN when there are none)."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.fmean(values) if values else math.nan


def mean_std(values: list[float]) -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.fmean(values):.1f} +- {statistics.stdev(values):.1f} (n={len(values)})"


def report_progress(impl: str, seed: int, step: int, curve: list[dict[str, Any]]) -> None:
    rows = [r for r in curve if r["step"] == step]
    text = "  ".join(f"L{r['L_test']}: {fmt_pct(r['success_rate'])}" for r in rows)
    print(f"  [{impl} seed {seed}] step {step:>7}: success {text}", flush=True)


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


def throughput(timing: dict[str, Any], eval_interval: int) -> dict[str, float]:
    """Updates/s over all intervals and without the first (compilation / warm-up)."""
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


def fmt_mean_se(value: float, se: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.1f}" if math.isnan(se) else f"{value:.1f} +- {se:.1f}"


def verdict_table(
    rows: list[dict[str, Any]], timings: dict[str, list[dict[str, Any]]], args: argparse.Namespace
) -> tuple[str, list[dict[str, Any]]]:
    """Final scores per L_test: mean +- s.e. over seeds per implementation, the paired difference
    ours - reference with its 95% CI and the verdict; the mean updates/s of each below."""
    scale = 100.0 if args.metric == "success_rate" else 1.0
    header = (f"{'L_test':>6} | {'reference':>15} | {'ours':>15} | "
              f"{'ours - reference [95% CI]':>30} | verdict")
    lines, records = [header, "-" * len(header)], []
    for n in TEST_FLOW_STEPS:
        scores = {impl: {r["seed"]: scale * r[args.metric] for r in rows
                         if r["impl"] == impl and r["L_test"] == n and r["step"] == args.steps}
                  for impl in IMPLS}
        diff = paired_difference(scores["ours"], scores["reference"])
        decided = verdict(diff, args.margin)
        cells = []
        for impl in IMPLS:
            value, se = mean_se([v for v in scores[impl].values() if not math.isnan(v)])
            cells.append(f"{fmt_mean_se(value, se):>15}")
            records.append({"L_test": n, "impl": impl, "mean": value, "se": se})
        interval = "" if math.isnan(diff.low) else f" [{diff.low:+.1f}, {diff.high:+.1f}]"
        change = "n/a" if math.isnan(diff.mean) else f"{diff.mean:+.1f}{interval}"
        lines.append(f"{n:>6} | " + " | ".join(cells) + f" | {change:>30} | {decided}")
        records.append({"L_test": n, "impl": "ours - reference", "mean": diff.mean, "se": diff.se,
                        "ci95": [diff.low, diff.high], "pairs": diff.n, "verdict": decided})
    speeds = [f"{impl} {mean([throughput(t, args.eval_interval)['updates_per_s'] for t in runs]):.1f}"
              for impl, runs in timings.items()]
    lines.append("updates/s, mean over seeds: " + ", ".join(speeds))
    return "\n".join(lines), records


def write_csv(rows: list[dict[str, Any]], path: Path, fields: list[str]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row[k] for k in fields})


def print_report(
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    loss_rows: list[dict[str, Any]],
    timings: dict[str, list[dict[str, Any]]],
    meta: dict[str, Any],
    title: str,
) -> dict[str, Any]:
    """Prints the settings, curves, losses, final scores and throughput; returns the summary."""
    import torch

    impls = list(timings)
    print(f"\n{title}")
    print(f"N={args.num_particles} L_train={args.train_flow_steps} eps={args.step_size} "
          f"alpha={args.alpha} gamma={args.gamma} K={args.euler_steps} batch={args.batch_size} "
          f"lr={args.lr} tau={args.tau} target/selection twin agg={args.target_twin_agg} "
          f"score twin agg={args.score_twin_agg} particle agg={args.particle_agg}; "
          f"{args.eval_episodes} episodes per L_test")
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

    unit = "success (%)" if args.metric == "success_rate" else "return"
    print(f"\nVerdict on the final {unit} at step {args.steps}, paired by seed (mean +- s.e. over "
          f"seeds; margin +-{args.margin:g}; rule: benchmarks/compare/stats.py)")
    table, comparison = verdict_table(rows, timings, args)
    print(table)

    summary: dict[str, Any] = {"args": {k: str(v) if isinstance(v, Path) else v
                                        for k, v in vars(args).items()}, **meta,
                               "comparison": comparison, "throughput": {}}
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
    return summary
