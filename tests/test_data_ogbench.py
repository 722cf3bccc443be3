"""OGBench offline: names, generation, single-task loading, verify, eval env.

See docs/algorithm.md, "Data", and docs/data.md.
"""

from __future__ import annotations

import argparse
import json
from importlib import metadata

import numpy as np
import pytest

from vgf_rllib.cli import data as data_cli
from vgf_rllib.data import (
    DatasetError,
    check_against_spaces,
    load_dataset,
    ogbench_generate,
    ogbench_verify,
)
from vgf_rllib.data.ogbench_catalog import (
    GENERATOR_KEY,
    parse_dataset_name,
    parse_singletask_name,
)
from vgf_rllib.data.ogbench_generate import generate, recipe_for
from vgf_rllib.data.ogbench_verify import verify
from vgf_rllib.data.ogbench_data import SUCCESS_TIMINGS, env_success_timing, make_ogbench_env
from vgf_rllib.envs import EnvSpecError, make_env, normalized_score
from vgf_rllib.experiments.reporting.provenance import dataset_origin

pytest.importorskip("ogbench")
MAZE = "pointmaze-medium-navigate-v0"
CUBE = "cube-single-play-v0"


pytestmark = pytest.mark.usefixtures("no_network")


def run_data_cli(*args: str) -> int:
    """``vgf-rllib data ...`` through this sub-command's own parser."""
    parser = argparse.ArgumentParser()
    data_cli.register(parser.add_subparsers())
    namespace = parser.parse_args(["data", *args])
    return namespace.func(namespace)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Small point-maze (3 episodes) and cube-single (1 x 300 steps) datasets via the CLI."""
    directory = tmp_path_factory.mktemp("ogbench")
    assert (
        run_data_cli(
            "generate", MAZE, "--episodes", "3", "--dir", str(directory), "--quiet", "--no-verify"
        )
        == 0
    )
    assert (
        run_data_cli(
            "generate",
            CUBE,
            "--episodes",
            "1",
            "--steps",
            "300",
            "--dir",
            str(directory),
            "--quiet",
            "--no-verify",
        )
        == 0
    )
    return directory


# --- names ---------------------------------------------------------------------------------


def test_parse_names():
    name = parse_singletask_name("cube-single-play-singletask-task2-v0")
    assert (name.env, name.kind, name.task, name.dataset) == ("cube-single", "play", 2, CUBE)
    assert parse_singletask_name("puzzle-4x4-noisy-singletask-v0").task is None
    assert (
        parse_dataset_name("ogbench:pointmaze-giant-stitch-v0").singletask
        == "pointmaze-giant-stitch-singletask-v0"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("cube-sextuple-play-singletask-v0", "unknown OGBench env 'cube-sextuple'; valid envs: ["),
        (
            "cube-single-navigate-singletask-v0",
            "env 'cube-single' has no dataset 'navigate'; valid datasets: ['play', 'noisy']",
        ),
        ("cube-single-play-singletask-task9-v0", "unknown task 'task9'; valid tasks: ['task1'"),
        ("cube-single-play-v0", "use its single-task form 'cube-single-play-singletask-v0'"),
        ("cube-single-play-singletask", "expected '<env>-<dataset>-singletask[-taskN]-v0'"),
        (
            "visual-cube-single-play-singletask-v0",
            "pixel-based 'visual-' datasets are not supported",
        ),
    ],
)
def test_bad_names_list_valid_choices(name, expected):
    with pytest.raises(DatasetError) as error:
        load_dataset(f"ogbench:{name}", dataset_dir="/nonexistent")
    assert expected in str(error.value)


def test_missing_files_never_download(tmp_path):
    with pytest.raises(DatasetError) as error:
        load_dataset("ogbench:scene-play-singletask-v0", dataset_dir=tmp_path)
    message = str(error.value)
    assert "scene-play-v0.npz" in message and "scene-play-v0-val.npz" in message
    assert "vgf-rllib data generate scene-play-v0" in message and "nothing is downloaded" in message
    with pytest.raises(DatasetError, match="cannot be generated here"):
        load_dataset("ogbench:antmaze-large-navigate-singletask-v0", dataset_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_generation_refuses_expert_datasets(tmp_path):
    for name in (
        "antmaze-medium-navigate-v0",
        "humanoidmaze-medium-stitch-v0",
        "antsoccer-arena-navigate-v0",
    ):
        with pytest.raises(DatasetError, match="expert policies and cannot be generated offline"):
            generate(name, dataset_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_official_recipes():
    recipe = recipe_for(parse_dataset_name(MAZE))
    assert (recipe.env_id, recipe.episodes, recipe.episode_steps, recipe.noise) == (
        "pointmaze-medium-v0",
        1000,
        1001,
        0.5,
    )
    assert recipe_for(parse_dataset_name("pointmaze-giant-navigate-v0")).episode_steps == 2001
    assert recipe_for(parse_dataset_name("pointmaze-large-stitch-v0")).episodes == 5000
    assert recipe_for(parse_dataset_name("cube-quadruple-play-v0")).episodes == 5000
    assert recipe_for(parse_dataset_name("puzzle-4x5-noisy-v0")).p_random_action == 0.2
    assert recipe_for(parse_dataset_name("scene-noisy-v0")).p_random_action == 0.1


# --- generated data --------------------------------------------------------------------------


def test_generated_file_layout(data_dir):
    with np.load(data_dir / f"{MAZE}.npz") as train, np.load(data_dir / f"{MAZE}-val.npz") as val:
        assert set(train.files) == {
            "observations",
            "actions",
            "terminals",
            "qpos",
            "qvel",
            GENERATOR_KEY,
        }
        assert train["observations"].shape == (3 * 1001, 2) and val["terminals"].shape == (1001,)
        assert train["terminals"].dtype == bool and train["terminals"].sum() == 3
        assert np.abs(train["actions"]).max() <= 1.0
    with np.load(data_dir / f"{CUBE}.npz") as train:
        assert train["observations"].shape == (300, 28) and train["actions"].shape == (300, 5)


def test_generated_files_record_their_generator(data_dir):
    import ogbench.utils

    version = metadata.version("ogbench")
    for split, suffix, episodes, official in (("train", "", 3, 1000), ("val", "-val", 1, 100)):
        path = data_dir / f"{MAZE}{suffix}.npz"
        with np.load(path, allow_pickle=False) as archive:  # a plain string, no pickle needed
            record = json.loads(str(archive[GENERATOR_KEY]))
        assert record == {
            "generator": "vgf-rllib",
            "dataset": MAZE,
            "split": split,
            "episodes": episodes,
            "official_episodes": official,
            "episode_steps": 1001,
            "seed": 0,
            "ogbench_version": version,
        }
        raw = ogbench.utils.load_dataset(str(path))  # ogbench's own reader ignores the record
        assert GENERATOR_KEY not in raw and len(raw["observations"]) == episodes * 1000
    with np.load(data_dir / f"{CUBE}.npz") as archive:
        cube = json.loads(str(archive[GENERATOR_KEY]))
    assert (cube["episodes"], cube["episode_steps"], cube["split"]) == (1, 300, "train")
    origin = dataset_origin(f"ogbench:{MAZE}", str(data_dir))
    assert (origin.origin, origin.differs) == ("generated locally", "yes")
    assert "3 of the official 1000 episodes" in origin.note


def test_load_single_task_through_load_dataset(data_dir):
    dataset = load_dataset("ogbench:cube-single-play-singletask-task2-v0", dataset_dir=data_dir)
    assert len(dataset) == 299 and dataset.observation_dim == 28 and dataset.action_dim == 5
    assert set(np.unique(dataset.rewards)) <= {-1.0, 0.0}
    assert (
        dataset.metadata["task"] == 2
        and dataset.metadata["env_spec"] == "ogbench:cube-single-play-singletask-task2-v0"
    )
    maze = load_dataset("ogbench:pointmaze-medium-navigate-singletask-v0", dataset_dir=data_dir)
    assert len(maze) == 3000 and maze.metadata["task"] == 1  # the default task
    np.testing.assert_array_equal(maze.masks, (maze.rewards == -1.0).astype(np.float32))
    assert maze.terminals.sum() == 3  # trajectory ends only
    val = load_dataset(
        "ogbench:pointmaze-medium-navigate-singletask-v0", dataset_dir=data_dir, split="val"
    )
    assert len(val) == 1000


def test_dataset_dir_from_environment(data_dir, monkeypatch):
    monkeypatch.setenv("VGF_OGBENCH_DIR", str(data_dir))
    assert len(load_dataset("ogbench:pointmaze-medium-navigate-singletask-task3-v0")) == 3000


def test_verify_matches_env_success(data_dir):
    report = verify(MAZE, dataset_dir=data_dir, samples=64)
    assert report.transitions == 3000 and report.trajectories == 3 and report.checked_rows > 0
    assert (
        verify(
            "cube-single-play-singletask-task2-v0", dataset_dir=data_dir, samples=32
        ).checked_rows
        == 32
    )


def test_verify_detects_relabel_mismatch(data_dir, monkeypatch):
    monkeypatch.setattr(ogbench_verify, "_env_signal", lambda *args: (0.0, True))
    with pytest.raises(
        DatasetError, match=r"check\(s\) failed: row \d+: env says reward 0.0, success True"
    ):
        verify(MAZE, dataset_dir=data_dir, samples=8)


def test_verify_detects_misaligned_states(data_dir, tmp_path):
    with np.load(data_dir / f"{MAZE}.npz") as train:
        arrays = dict(train)
    arrays["qpos"] = np.roll(arrays["qpos"], 1, axis=0)  # states one step off their observations
    np.savez(tmp_path / f"{MAZE}.npz", **arrays)
    (tmp_path / f"{MAZE}-val.npz").write_bytes((data_dir / f"{MAZE}-val.npz").read_bytes())
    with pytest.raises(
        DatasetError, match=r"row \d+: the recorded qpos does not belong to the observation"
    ):
        verify(MAZE, dataset_dir=tmp_path, samples=8)


def test_corrupt_and_incomplete_files(data_dir, tmp_path):
    val = (data_dir / f"{MAZE}-val.npz").read_bytes()
    (tmp_path / f"{MAZE}-val.npz").write_bytes(val)
    (tmp_path / f"{MAZE}.npz").write_bytes((data_dir / f"{MAZE}.npz").read_bytes()[:500])
    with pytest.raises(DatasetError, match=f"{MAZE}.npz is truncated or corrupt"):
        load_dataset("ogbench:pointmaze-medium-navigate-singletask-v0", dataset_dir=tmp_path)
    np.savez(
        tmp_path / f"{MAZE}.npz",
        observations=np.zeros((3, 2)),
        actions=np.zeros((3, 2)),
        terminals=np.ones(3),
    )
    with pytest.raises(DatasetError, match=r"lacks key\(s\) \['qpos'\]"):
        load_dataset("ogbench:pointmaze-medium-navigate-singletask-v0", dataset_dir=tmp_path)


def test_generation_is_seeded_and_refuses_overwrite(data_dir, tmp_path):
    generate(MAZE, episodes=1, episode_steps=50, dataset_dir=tmp_path / "a", seed=7, progress=False)
    generate(MAZE, episodes=1, episode_steps=50, dataset_dir=tmp_path / "b", seed=7, progress=False)
    with np.load(tmp_path / "a" / f"{MAZE}.npz") as a, np.load(tmp_path / "b" / f"{MAZE}.npz") as b:
        np.testing.assert_array_equal(a["actions"], b["actions"])
    with pytest.raises(DatasetError, match="already exist; pass overwrite=True"):
        generate(MAZE, episodes=1, dataset_dir=tmp_path / "a")


def test_failed_generation_writes_nothing(tmp_path, monkeypatch):
    def broken(*args):
        raise RuntimeError("simulator failure")

    monkeypatch.setattr(ogbench_generate, "_maze_collector", broken)
    with pytest.raises(RuntimeError):
        generate(MAZE, episodes=1, dataset_dir=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


# --- evaluation env ------------------------------------------------------------------------


def test_eval_env_reports_success(data_dir):
    env = make_env("ogbench:pointmaze-medium-navigate-singletask-task2-v0")
    observation, _ = env.reset(seed=0)
    _, reward, _, _, info = env.step(env.action_space.sample())
    assert "success" in info and reward in (-1.0, 0.0)
    dataset = load_dataset(
        "ogbench:pointmaze-medium-navigate-singletask-task2-v0", dataset_dir=data_dir
    )
    check_against_spaces(dataset, env.observation_space, env.action_space)
    assert observation.shape == (dataset.observation_dim,)
    assert normalized_score("ogbench:pointmaze-medium-navigate-singletask-v0", np.zeros(3)) is None
    env.close()


@pytest.mark.parametrize(
    "name", ["pointmaze-medium-navigate-singletask-v0", "cube-single-play-singletask-v0"]
)
def test_eval_env_success_timing_choice(name):
    default = make_ogbench_env(name)
    assert env_success_timing(default) in SUCCESS_TIMINGS  # ogbench's own default ("pre" >= 1.2)
    default.close()
    for timing in SUCCESS_TIMINGS:
        env = make_env(f"ogbench:{name}", success_timing=timing)
        assert env_success_timing(env) == timing == env.unwrapped._success_timing
        env.reset(seed=0)
        assert "success" in env.step(env.action_space.sample())[-1]
        env.close()
    with pytest.raises(EnvSpecError, match=r"must be one of \['pre', 'post'\].*'later'"):
        make_env(f"ogbench:{name}", success_timing="later")


def test_success_timing_judges_the_state_before_or_after_the_step():
    """Step from just outside the goal radius to inside it: 'pre' judges the state before the
    step (no success yet), 'post' the next state (success, as in ogbench 1.1.0)."""
    flags = {}
    for timing in SUCCESS_TIMINGS:
        env = make_ogbench_env("pointmaze-medium-navigate-singletask-v0", success_timing=timing)
        env.reset(seed=0)
        base = env.unwrapped
        goal = np.asarray(base.cur_goal_xy)
        base.set_xy(goal + [base._goal_tol + 0.05, 0.0])
        _, reward, terminated, _, info = env.step(np.array([-1.0, 0.0]))
        assert np.linalg.norm(base.get_xy() - goal) < base._goal_tol  # inside after the step
        flags[timing] = (bool(info["success"]), bool(terminated), float(reward))
        env.close()
    assert flags == {"pre": (False, False, -1.0), "post": (True, True, 0.0)}
