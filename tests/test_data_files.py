"""Own datasets as .npz and .parquet files through load_dataset, and their failure modes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vgf_rllib.data import DatasetError, load_dataset

ROWS = 5


def transitions() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {
        "observations": rng.normal(size=(ROWS, 3)).astype(np.float32),
        "actions": rng.uniform(-2, 2, (ROWS, 2)).astype(np.float32),  # env bounds [-2, 2]
        "rewards": rng.normal(size=ROWS).astype(np.float32),
        "next_observations": rng.normal(size=(ROWS, 3)).astype(np.float32),
        "terminals": np.eye(ROWS, dtype=bool)[-1],
    }


BOUNDS = gym.spaces.Box(-2.0, 2.0, (2,), np.float32)


def table(data: dict[str, np.ndarray], vector_type: str = "list") -> pa.Table:
    columns = {}
    for name, values in data.items():
        if values.ndim == 1:
            columns[name] = pa.array(values)
        elif vector_type == "tensor":
            columns[name] = pa.FixedShapeTensorArray.from_numpy_ndarray(values)
        elif vector_type == "fixed":
            columns[name] = pa.FixedSizeListArray.from_arrays(
                pa.array(values.ravel()), values.shape[1]
            )
        else:
            columns[name] = pa.array(list(values))
    return pa.table(columns)


def test_npz_with_rescaling(tmp_path):
    np.savez(tmp_path / "mine.npz", **transitions())
    dataset = load_dataset(tmp_path / "mine.npz", rescale_actions=True, action_space=BOUNDS)
    np.testing.assert_allclose(
        dataset.actions, np.clip(transitions()["actions"] / 2, -1, 1), atol=1e-5
    )
    assert dataset.masks[-1] == 0.0 and dataset.source == str(tmp_path / "mine.npz")
    with pytest.raises(DatasetError, match="outside \\[-1, 1\\]"):
        load_dataset(tmp_path / "mine.npz")


@pytest.mark.parametrize("vector_type", ["list", "fixed", "tensor"])
def test_parquet_vector_columns(tmp_path, vector_type):
    pq.write_table(table(transitions(), vector_type), tmp_path / "mine.parquet")
    dataset = load_dataset(tmp_path / "mine.parquet", rescale_actions=True, action_space=BOUNDS)
    np.testing.assert_allclose(dataset.observations, transitions()["observations"])
    assert dataset.action_dim == 2 and len(dataset) == ROWS


def test_truncated_npz_names_the_file(tmp_path):
    path = tmp_path / "cut.npz"
    np.savez(path, **transitions())
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(
        DatasetError, match=f"{path}: cannot read as .npz, the file is truncated or corrupt"
    ):
        load_dataset(path)


def test_pickled_npz_field_is_refused(tmp_path):
    data = transitions()
    data["observations"] = np.array([object()] * ROWS, dtype=object)
    np.savez(tmp_path / "obj.npz", **data)
    with pytest.raises(DatasetError, match="field 'observations' holds pickled Python objects"):
        load_dataset(tmp_path / "obj.npz")


def test_npz_missing_field(tmp_path):
    data = transitions()
    del data["next_observations"]
    np.savez(tmp_path / "part.npz", **data)
    with pytest.raises(DatasetError, match=r"part.npz: missing field\(s\) \['next_observations'\]"):
        load_dataset(tmp_path / "part.npz")


def test_corrupt_parquet_names_the_file(tmp_path):
    path = tmp_path / "bad.parquet"
    pq.write_table(table(transitions()), path)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(DatasetError, match="bad.parquet: cannot read as .parquet"):
        load_dataset(path)


def test_ragged_parquet_column(tmp_path):
    data = table(transitions()).to_pydict()
    data["observations"][3] = data["observations"][3][:2]
    pq.write_table(pa.table(data), tmp_path / "ragged.parquet")
    with pytest.raises(
        DatasetError, match="column 'observations' is ragged: row 0 has 3 values, row 3 has 2"
    ):
        load_dataset(tmp_path / "ragged.parquet")


def test_parquet_null_value(tmp_path):
    data = table(transitions()).to_pydict()
    data["rewards"][2] = None
    pq.write_table(pa.table(data), tmp_path / "null.parquet")
    with pytest.raises(DatasetError, match="column 'rewards' has a missing value at row 2"):
        load_dataset(tmp_path / "null.parquet")


def test_parquet_integer_observations_are_refused(tmp_path):
    data = transitions()
    data["observations"] = np.arange(ROWS * 3).reshape(ROWS, 3)
    pq.write_table(table(data), tmp_path / "int.parquet")
    with pytest.raises(
        DatasetError, match="field 'observations' has dtype int64; a floating-point array is needed"
    ):
        load_dataset(tmp_path / "int.parquet", rescale_actions=True, action_space=BOUNDS)


def test_corrupt_compressed_npz_names_the_file(tmp_path):
    path = tmp_path / "flipped.npz"
    np.savez_compressed(path, **{**transitions(), "observations": np.random.rand(2000, 3)})
    data = bytearray(path.read_bytes())
    data[1000:1100] = bytes(b ^ 0xFF for b in data[1000:1100])
    path.write_bytes(bytes(data))
    with pytest.raises(
        DatasetError, match="flipped.npz: cannot read as .npz, the file is truncated or corrupt"
    ):
        load_dataset(path)
