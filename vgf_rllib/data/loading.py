"""One entry point from a dataset spec (dict, path or ``suite:name``) to an OfflineDataset.

Prefixed specs (``ogbench:``, ``minari:``, ``demo:``, ``random:``) go to their source in
:data:`vgf_rllib.data.sources.SOURCES`; files go by suffix to :data:`FILE_LOADERS`; a directory
is read as a Minari dataset. Every
route ends in :func:`build_dataset` (optional action rescaling, then validation;
docs/algorithm.md, "Data").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vgf_rllib.data.dataset import DatasetError, OfflineDataset, from_arrays
from vgf_rllib.data.files import read_npz, read_parquet
from vgf_rllib.data.sources import SOURCES, split_spec
from vgf_rllib.data.spaces import rescale_actions as rescale

DatasetSpec = str | Path | Mapping[str, Any]
FileLoader = Callable[..., OfflineDataset]


def build_dataset(
    arrays: Mapping[str, Any],
    *,
    source: str,
    metadata: dict[str, Any] | None = None,
    rescale_actions: bool = False,
    action_space: Any = None,
) -> OfflineDataset:
    """Rescale actions from ``action_space`` bounds into [-1, 1] if asked, then validate."""
    if rescale_actions:
        if action_space is None:
            raise DatasetError(
                f"{source}: rescale_actions=True needs the env's action space (pass "
                "action_space=<gymnasium Box>); this dataset kind does not name an env"
            )
        if "actions" in arrays:
            arrays = {**arrays, "actions": rescale(arrays["actions"], action_space, source)}
    return from_arrays(arrays, source=source, metadata=metadata)


def load_npz(path: Path, **options: Any) -> OfflineDataset:
    """Load a ``.npz`` with the transition fields (see :func:`from_arrays`)."""
    return build_dataset(read_npz(path), source=str(path), **options)


def load_parquet(path: Path, **options: Any) -> OfflineDataset:
    """Load a ``.parquet`` table whose columns are the transition fields."""
    return build_dataset(read_parquet(path), source=str(path), **options)


#: file suffix -> loader(path, rescale_actions=..., action_space=...) -> OfflineDataset
FILE_LOADERS: dict[str, FileLoader] = {".npz": load_npz, ".parquet": load_parquet}


def load_dataset(
    spec: DatasetSpec,
    *,
    dataset_dir: str | Path | None = None,
    rescale_actions: bool = False,
    action_space: Any = None,
    source: str | None = None,
    **suite_options: Any,
) -> OfflineDataset:
    """Load a dataset from a dict of arrays, a file, a Minari directory or ``suite:name``.

    ``dataset_dir`` is where suites look for their files (OGBench: the ``.npz`` directory;
    Minari: the datasets root). ``rescale_actions`` maps actions from ``action_space`` (or, for
    suites, the suite env's action space) into [-1, 1]. Other keywords go to the suite loader.
    """
    common = {"rescale_actions": rescale_actions, "action_space": action_space}
    if isinstance(spec, Mapping):
        _refuse_suite_options(suite_options, "a dict of arrays")
        return build_dataset(spec, source=source or "<arrays>", **common)
    text = str(spec)
    prefix, sep, _ = text.partition(":")
    if found := split_spec(text):
        source, name = found
        return source.load(name, dataset_dir=dataset_dir, **common, **suite_options)
    path = Path(text).expanduser()
    if path.is_dir() and "minari" in SOURCES:
        return SOURCES["minari"].load(str(path), **common, **suite_options)
    loader = FILE_LOADERS.get(path.suffix.lower())
    if loader is None:
        known = sorted(FILE_LOADERS) + ["<Minari dataset directory>"]
        known += [f"{p}:<name>" for p in sorted(SOURCES)]
        what = (
            f"unknown dataset suite '{prefix}'"
            if sep and not path.exists()
            else ("unknown dataset kind")
        )
        raise DatasetError(f"{text}: {what}; expected one of {known}")
    if not path.exists():
        raise DatasetError(f"{path}: dataset file not found")
    _refuse_suite_options(suite_options, f"a {path.suffix} file")
    return loader(path, **common)


def _refuse_suite_options(options: Mapping[str, Any], kind: str) -> None:
    if options:
        raise DatasetError(f"option(s) {sorted(options)} do not apply to {kind}")
