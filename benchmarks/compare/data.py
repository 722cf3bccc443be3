"""The OGBench dataset files both sides train on."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def check_dataset(args: argparse.Namespace) -> Path:
    """The directory holding both files; exits when one is missing (the reference's ogbench
    would otherwise download it)."""
    from vgf_rllib.data.ogbench_catalog import dataset_files, ogbench_dir, parse_singletask_name

    parsed = parse_singletask_name(args.task)
    directory = ogbench_dir(args.dataset_dir).expanduser().resolve()
    missing = [p for p in dataset_files(parsed.dataset, directory) if not p.is_file()]
    if missing:
        sys.exit(
            f"missing {[p.name for p in missing]} in {directory}: generate them with "
            f"`vgf-rllib data generate {parsed.dataset} --episodes N --dir {directory}`"
        )
    return directory
