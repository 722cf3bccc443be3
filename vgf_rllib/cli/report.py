"""``vgf-rllib report``: tables and figures from a sweep's Tune experiment folder."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="tables (markdown, CSV) and plots (PNG) of a sweep",
        description="Summarize the VGF trials under a folder (one or more Tune experiments): "
        "per suite a markdown and CSV table (final and best score, mean ± std over seeds, best "
        "L_test and config per task) and PNG plots (learning curves, score vs L_test, score vs "
        "searched hyperparameters).",
    )
    parser.add_argument("experiment_dir", help="Tune experiment folder, e.g. runs/sweeps/smoke")
    parser.add_argument("--out", help="output folder (default: <experiment_dir>/report)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vgf_rllib.experiments.reporting import ReportError, write_report

    try:
        written = write_report(args.experiment_dir, args.out)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0
