"""What datasets are present locally: OGBench files and Minari store entries.

Reads only file listings, ``terminals`` arrays and Minari ``metadata.json``; imports neither
ogbench nor minari.

See docs/algorithm.md, "Data".
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vgf_rllib.data.minari_data import minari_store
from vgf_rllib.data.ogbench_catalog import ogbench_dir


@dataclass(frozen=True)
class LocalDataset:
    """One local dataset: its spec, bytes on disk, transitions (None if unreadable), a note."""

    spec: str
    size_bytes: int
    transitions: int | None
    note: str = ""


def _transitions_in_file(path: Path) -> int | None:
    """Transitions a non-compact OGBench load yields: rows minus one per trajectory."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            terminals = archive["terminals"]
    except (OSError, ValueError, KeyError, EOFError):
        return None
    return int(len(terminals) - np.count_nonzero(terminals))


def ogbench_datasets(dataset_dir: str | os.PathLike | None = None) -> list[LocalDataset]:
    """Every ``<dataset>.npz`` in the OGBench directory (with its ``-val.npz`` partner)."""
    directory = ogbench_dir(dataset_dir)
    found = []
    for path in sorted(directory.glob("*.npz")) if directory.is_dir() else []:
        if path.name.startswith(".") or path.stem.endswith("-val"):
            continue
        val = path.with_name(f"{path.stem}-val.npz")
        size = path.stat().st_size + (val.stat().st_size if val.exists() else 0)
        transitions = _transitions_in_file(path)
        note = "" if val.exists() else "missing -val.npz"
        if transitions is None:
            note = "unreadable (corrupt?)"
        found.append(LocalDataset(f"ogbench:{path.stem}", size, transitions, note))
    return found


def minari_datasets(root: str | os.PathLike | None = None) -> list[LocalDataset]:
    """Datasets in the Minari store (``root``, else ``$MINARI_DATASETS_PATH``, else default)."""
    base = minari_store(root)
    found = []
    for metadata_file in sorted(base.glob("**/data/metadata.json")) if base.is_dir() else []:
        data = metadata_file.parent
        size = sum(f.stat().st_size for f in data.rglob("*") if f.is_file())
        try:
            metadata = json.loads(metadata_file.read_text())
            spec, steps = f"minari:{metadata['dataset_id']}", int(metadata["total_steps"])
            note = "" if metadata.get("ref_max_score") is not None else "no reference scores"
        except (OSError, ValueError, KeyError, TypeError):
            spec, steps, note = (
                f"minari:{data.parent.relative_to(base)}",
                None,
                "unreadable metadata",
            )
        found.append(LocalDataset(spec, size, steps, note))
    return found
