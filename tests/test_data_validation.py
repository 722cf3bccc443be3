"""Validation of raw arrays, spaces and load_dataset dispatch: every bad input names its problem."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

from vgf_rllib.data import (
    DatasetError,
    build_dataset,
    check_against_spaces,
    from_arrays,
    load_dataset,
    observation_statistics,
    rescale_actions,
)


def arrays(rows: int = 6, obs_dim: int = 3, act_dim: int = 2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "observations": rng.normal(size=(rows, obs_dim)).astype(np.float32),
        "actions": rng.uniform(-1, 1, (rows, act_dim)).astype(np.float32),
        "rewards": rng.normal(size=rows).astype(np.float32),
        "next_observations": rng.normal(size=(rows, obs_dim)).astype(np.float32),
        "masks": np.ones(rows, np.float32),
        "terminals": np.eye(rows)[-1].astype(bool),
    }


def test_valid_arrays_become_float32_and_clipped_actions():
    raw = arrays()
    raw["actions"][0, 0] = 1.0
    dataset = from_arrays(raw, source="mine")
    assert len(dataset) == 6 and dataset.observation_dim == 3 and dataset.action_dim == 2
    assert all(a.dtype == np.float32 for a in dataset.as_dict().values())
    assert dataset.actions.max() < 1.0  # clipped to 1 - 1e-5 (docs/algorithm.md, "Data")
    assert dataset.terminals[-1] == 1.0 and dataset.source == "mine"


def test_masks_default_to_one_minus_terminals_with_one_warning_per_source(capsys):
    raw = arrays()
    del raw["masks"]
    dataset = from_arrays(raw, source="terminals-only")
    np.testing.assert_array_equal(dataset.masks, 1.0 - dataset.terminals)
    from_arrays(raw, source="terminals-only")  # a second load of the same data: no second line
    err = capsys.readouterr().err
    assert err.count("warning: terminals-only: 'terminals' without 'masks' or 'timeouts'") == 1
    assert "1 trajectory ends is taken as a true termination" in err and "'timeouts'" in err


@pytest.mark.parametrize("name", ["timeouts", "truncations"])
def test_time_limit_ends_bootstrap_and_end_trajectories(name, capsys):
    """D4RL/d3rlpy files: `terminals` are true terminations, `timeouts` (Minari: `truncations`)
    end a trajectory at a time limit, which still bootstraps."""
    raw = arrays()
    del raw["masks"]
    raw["terminals"] = np.array([0, 1, 0, 0, 0, 0], bool)
    raw[name] = np.array([0, 0, 0, 0, 0, 1], np.float32)
    dataset = from_arrays(raw, source=f"with-{name}")
    np.testing.assert_array_equal(dataset.masks, [1, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(dataset.terminals, [0, 1, 0, 0, 0, 1])
    assert capsys.readouterr().err == ""


def test_time_limit_ends_beside_masks_only_mark_trajectory_ends():
    raw = arrays()
    del raw["terminals"]
    raw["masks"] = np.array([1, 1, 0, 1, 1, 1], np.float32)
    raw["timeouts"] = np.array([0, 0, 0, 0, 0, 1], bool)
    dataset = from_arrays(raw)
    np.testing.assert_array_equal(dataset.masks, [1, 1, 0, 1, 1, 1])
    np.testing.assert_array_equal(dataset.terminals, [0, 0, 1, 0, 0, 1])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda a: a.pop("rewards"), "missing field(s) ['rewards']"),
        (lambda a: (a.pop("masks"), a.pop("terminals")), "masks or terminals"),
        (lambda a: a.update(rewards=a["rewards"][:-1]), "field 'rewards' has shape (5,)"),
        (
            lambda a: a.update(next_observations=a["next_observations"][:, :2]),
            "'next_observations' has dim 2",
        ),
        (
            lambda a: a.update(observations=a["observations"][:, 0]),
            "field 'observations' must be 2-D",
        ),
        (lambda a: a.update(rewards=np.ones((6, 2))), "field 'rewards' must be 1-D"),
        (
            lambda a: a["observations"].__setitem__((3, 1), np.nan),
            "field 'observations' holds NaN or inf (first at row 3",
        ),
        (
            lambda a: a["rewards"].__setitem__(4, np.inf),
            "field 'rewards' holds NaN or inf (first at row 4",
        ),
        (
            lambda a: a["actions"].__setitem__((2, 1), 1.5),
            "outside [-1, 1] (first at row 2, dim 1: 1.5)",
        ),
        (
            lambda a: a.update(observations=np.ones((6, 3), np.int64)),
            "field 'observations' has dtype int64",
        ),
        (lambda a: a.update(actions=np.zeros((6, 2), np.int32)), "field 'actions' has dtype int32"),
        (lambda a: a.update(actions=np.empty((6, 2), object)), "field 'actions' has dtype object"),
        (lambda a: a.update(rewards=np.array(["x"] * 6)), "field 'rewards' has dtype <U1"),
        (lambda a: a.update(masks=np.full(6, 0.5)), "field 'masks' must hold only 0 and 1; row 0"),
        (lambda a: a.update(timeouts=np.full(6, 2)), "field 'timeouts' must hold only 0 and 1; row 0"),
        (lambda a: a.update(truncations=np.ones(5)), "field 'truncations' has shape (5,)"),
        (lambda a: a.update(timeouts=np.full(6, np.nan)), "field 'timeouts' holds NaN"),
    ],
)
def test_bad_arrays_name_the_problem(change, expected):
    raw = arrays()
    change(raw)
    with pytest.raises(DatasetError) as error:
        from_arrays(raw, source="my-data")
    assert expected in str(error.value) and "my-data" in str(error.value)


def test_empty_dataset_is_refused():
    with pytest.raises(DatasetError, match="empty"):
        from_arrays({k: v[:0] for k, v in arrays().items()})


def test_integer_rewards_and_bool_flags_are_accepted():
    raw = arrays()
    raw["rewards"] = np.arange(6)
    raw["masks"] = np.ones(6, bool)
    assert from_arrays(raw).rewards.dtype == np.float32


def test_check_against_spaces():
    dataset = from_arrays(arrays())
    box = lambda n: gym.spaces.Box(-1, 1, (n,))  # noqa: E731
    check_against_spaces(dataset, box(3), box(2))
    with pytest.raises(
        DatasetError,
        match=r"'observations' has dim 3, but the env's observation space has shape \(4,\)",
    ):
        check_against_spaces(dataset, box(4), box(2))
    with pytest.raises(
        DatasetError, match=r"'actions' has dim 2, but the env's action space has shape \(1,\)"
    ):
        check_against_spaces(dataset, box(3), box(1))
    with pytest.raises(DatasetError, match="not a continuous Box"):
        check_against_spaces(dataset, box(3), gym.spaces.Discrete(2))
    with pytest.raises(DatasetError, match="not a flat vector"):
        check_against_spaces(dataset, gym.spaces.Box(0, 1, (2, 2)), box(2))


def test_rescale_actions_from_env_bounds():
    space = gym.spaces.Box(np.array([-3.0, 0.0]), np.array([3.0, 10.0]), dtype=np.float64)
    raw = arrays()
    raw["actions"] = np.array([[-3.0, 0.0], [3.0, 10.0], [0.0, 5.0]] * 2, np.float32)
    np.testing.assert_allclose(
        rescale_actions(raw["actions"][:3], space, "x"), [[-1, -1], [1, 1], [0, 0]]
    )
    dataset = load_dataset(raw, rescale_actions=True, action_space=space)
    assert np.abs(dataset.actions).max() <= 1.0
    with pytest.raises(DatasetError, match="outside"):
        load_dataset(raw)  # without rescaling these actions are refused
    with pytest.raises(DatasetError, match="needs the env's action space"):
        load_dataset(raw, rescale_actions=True)
    with pytest.raises(DatasetError, match="unbounded"):
        build_dataset(
            raw,
            source="x",
            rescale_actions=True,
            action_space=gym.spaces.Box(-np.inf, np.inf, (2,)),
        )


def test_observation_statistics_floor_std():
    raw = arrays()
    raw["observations"][:, 0] = 5.0
    mean, std = observation_statistics(from_arrays(raw))
    assert mean.dtype == std.dtype == np.float32
    assert mean[0] == 5.0 and std[0] == pytest.approx(1e-3)


def test_load_dataset_dispatch_errors(tmp_path):
    with pytest.raises(DatasetError, match="unknown dataset suite 'nosuch'"):
        load_dataset("nosuch:thing")
    with pytest.raises(DatasetError, match="unknown dataset kind"):
        load_dataset(tmp_path / "data.csv")
    with pytest.raises(DatasetError, match="dataset file not found"):
        load_dataset(tmp_path / "absent.npz")
    np.savez(tmp_path / "d.npz", **arrays())
    with pytest.raises(DatasetError, match=r"option\(s\) \['reward_transform'\] do not apply"):
        load_dataset(tmp_path / "d.npz", reward_transform="none")
    assert len(load_dataset(tmp_path / "d.npz", dataset_dir="ignored-for-files")) == 6


def test_missing_optional_packages(monkeypatch):
    monkeypatch.setitem(sys.modules, "ogbench", None)
    monkeypatch.setitem(sys.modules, "minari", None)
    with pytest.raises(DatasetError, match="pip install ogbench"):
        load_dataset("ogbench:cube-single-play-singletask-v0", dataset_dir=".", allow_download=True)
    with pytest.raises(DatasetError, match=r"Minari datasets: needs the 'minari' package.*minari\[hdf5\]"):
        load_dataset("minari:mujoco/hopper/medium-v0")


def test_import_needs_neither_ogbench_nor_minari():
    code = (
        "import sys; sys.modules['ogbench'] = None; sys.modules['minari'] = None\n"
        "import vgf_rllib.data, vgf_rllib.envs\n"
        "assert {'ogbench', 'minari'} <= set(vgf_rllib.data.SOURCES)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
