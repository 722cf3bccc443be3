"""Side by side with the authors' VGF code at equal budget: same data, settings, seeds and steps.

Trains the authors' JAX implementation (a local checkout of https://github.com/ryanxhr/vgf,
given as ``--reference DIR``; nothing of it is copied here) and ours (``vgf_rllib``, PyTorch,
Ray RLlib) on the same OGBench single-task dataset files, then prints both learning curves
(success rate and return at every L_test in {0, 1, 2, 3}), the final scores and the training
throughput of each, and writes ``curves.csv``, ``losses.csv``, ``summary.json`` and
``curves.png`` under ``--output``. Its last table is the verdict per L_test on the final
``--metric`` (success rate by default): mean +- s.e. over ``--seeds`` for each implementation,
the difference ours - reference paired by seed with its 95% t confidence interval, and
"equivalent" (the CI within +-``--margin``), "ours better" / "authors better" (the CI excludes 0
on that side) or "inconclusive" (otherwise, and with one seed); ``compare/stats.py`` states the
rule.

The reference runs as a subprocess with the interpreter of its own environment
(``--reference-python``): its ``main.py`` with ``--agent=agents/vgf.py``, started through
``compare/launcher.py``, which only redirects OGBench to ``--dataset-dir``, disables Weights &
Biases, stands in for D4RL's modules and times the reference's evaluations (its docstring lists
what exactly). The settings each side gets, flag by flag, are in ``compare/settings.py`` (also
printed at the end of ``--help``).

Modules (``benchmarks/compare/``): ``settings.py`` (options, the settings mapping), ``data.py``
(the dataset files), ``reference.py`` (runs the reference, reads its outputs), ``launcher.py``
(runs in the reference's interpreter), ``ours.py`` (trains and evaluates ours), ``report.py``
(tables, throughput, CSV), ``stats.py`` (paired differences, the verdict), ``plot.py``
(``curves.png``).

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

import json
import os
import sys
from typing import Any

from compare.data import check_dataset
from compare.ours import run_ours
from compare.plot import plot
from compare.reference import run_reference
from compare.report import (
    CURVE_FIELDS, LOSS_FIELDS, eval_points, print_report, report_progress, write_csv,
)
from compare.settings import IMPLS, parse_args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, __doc__)
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
    summary = print_report(args, rows, loss_rows, timings, meta, title)
    (args.output / "summary.json").write_text(json.dumps(summary, indent=2))
    written = ("curves.csv", "losses.csv", "curves.png", "summary.json")
    print("\nwrote " + ", ".join(str(args.output / name) for name in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
