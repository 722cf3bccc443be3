"""One entry point from a dataset spec (dict, path or ``suite:name``) to an OfflineDataset.

Suite prefixes (``ogbench:``, ``minari:``) register a loader in :data:`SUITE_LOADERS`;
anything else is a numpy dict or a file path (spec section 4).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from vgf_rllib.data.dataset import DatasetError, OfflineDataset, from_arrays

DatasetSpec = str | Path | Mapping[str, Any]
SuiteLoader = Callable[..., OfflineDataset]

#: prefix (without the colon) -> loader(name, **options) -> OfflineDataset
SUITE_LOADERS: dict[str, SuiteLoader] = {}


def load_npz(path: Path) -> OfflineDataset:
    """Load a ``.npz`` with the transition fields (see :func:`from_arrays`)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError) as error:  # zipfile.BadZipFile is an OSError
        raise DatasetError(f"{path}: cannot read as .npz ({error})") from error
    return from_arrays(arrays, source=str(path))


FILE_LOADERS: dict[str, Callable[[Path], OfflineDataset]] = {".npz": load_npz}


def load_dataset(spec: DatasetSpec, **options: Any) -> OfflineDataset:
    """Load a dataset from a dict of arrays, a file path or a ``suite:name`` string."""
    if isinstance(spec, Mapping):
        return from_arrays(spec, source=options.get("source", "<arrays>"))
    text = str(spec)
    prefix, sep, name = text.partition(":")
    if sep and prefix in SUITE_LOADERS:
        return SUITE_LOADERS[prefix](name, **options)
    path = Path(text).expanduser()
    loader = FILE_LOADERS.get(path.suffix.lower())
    if loader is None:
        known = sorted(FILE_LOADERS) + [f"{p}:<name>" for p in sorted(SUITE_LOADERS)]
        raise DatasetError(f"{text}: unknown dataset kind; expected one of {known}")
    if not path.exists():
        raise DatasetError(f"{path}: dataset file not found")
    return loader(path)
