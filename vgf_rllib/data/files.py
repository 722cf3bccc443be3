"""Readers for own dataset files: ``.npz`` and ``.parquet`` to raw arrays.

Each reader returns a dict of numpy arrays for :func:`vgf_rllib.data.dataset.from_arrays` and
raises :class:`DatasetError` naming the file (and column) for unreadable or corrupt input.

See docs/algorithm.md, "Data".
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from vgf_rllib.data.dataset import DatasetError


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of a ``.npz`` archive; pickled (object) arrays are refused."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {}
            for name in archive.files:
                try:
                    arrays[name] = archive[name]
                except ValueError as error:
                    raise DatasetError(
                        f"{path}: field '{name}' holds pickled Python objects ({error}); store "
                        "plain numeric arrays"
                    ) from error
    except DatasetError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        raise DatasetError(
            f"{path}: cannot read as .npz, the file is truncated or corrupt ({error})"
        ) from error
    return arrays


def arrow_column_to_numpy(source: Any, name: str, column) -> np.ndarray:
    """One Arrow column as a numpy array: scalars -> (T,), list/tensor columns -> (T, d) (Arrow's
    and Ray Data's tensor columns: (T, *shape)), strings and binaries -> objects. ``source``
    names the file or input in errors."""
    import pyarrow as pa

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise DatasetError(f"{source}: column '{name}' has a missing value at row {row}")
    if isinstance(column.type, pa.FixedShapeTensorType):
        return column.to_numpy_ndarray()
    if isinstance(column.type, pa.ExtensionType) and hasattr(column.type, "shape"):
        # Ray Data's tensor extension: a list storage plus the element shape
        values = arrow_column_to_numpy(source, name, column.storage)
        return values.reshape(len(column), *column.type.shape)
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        lengths = column.value_lengths().to_numpy(zero_copy_only=False)
        if len(lengths) and (lengths != lengths[0]).any():
            row = int(np.flatnonzero(lengths != lengths[0])[0])
            raise DatasetError(
                f"{source}: column '{name}' is ragged: row 0 has {lengths[0]} values, row {row} "
                f"has {lengths[row]}"
            )
        width = int(lengths[0]) if len(lengths) else 0
        return arrow_column_to_numpy(source, name, column.flatten()).reshape(len(column), width)
    if pa.types.is_fixed_size_list(column.type):
        return arrow_column_to_numpy(source, name, column.flatten()).reshape(
            len(column), column.type.list_size
        )
    return column.to_numpy(zero_copy_only=False)


def read_parquet(path: Path) -> dict[str, np.ndarray]:
    """Columns of a ``.parquet`` file; vectors may be list, fixed-size-list or tensor columns."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as error:  # pragma: no cover - pyarrow is a core dependency
        raise DatasetError(
            f"{path}: reading .parquet needs pyarrow (`pip install pyarrow`)"
        ) from error
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise DatasetError(
            f"{path}: cannot read as .parquet, the file is truncated or corrupt ({error})"
        ) from error
    return {
        name: arrow_column_to_numpy(path, name, table.column(name)) for name in table.column_names
    }
