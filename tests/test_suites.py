"""Suite definitions: task lists, per-environment defaults (spec section 3), data instructions."""

from __future__ import annotations

import pytest

from vgf_rllib import VGFConfig
from vgf_rllib.data.ogbench_catalog import parse_singletask_name
from vgf_rllib.suites import SuiteError, get_suite, suite_names

EXPECTED_SIZES = {
    "smoke": 2,
    "smoke-pointmaze": 1,
    "ogbench-manipulation": 25,
    "ogbench-pointmaze": 20,
    "ogbench-locomotion": 25,
    "ogbench-default-tasks": 10,
    "d4rl-locomotion": 9,
    "d4rl-antmaze": 6,
}


def test_suite_sizes_and_unique_task_names() -> None:
    assert set(suite_names()) == set(EXPECTED_SIZES)
    for name, size in EXPECTED_SIZES.items():
        suite = get_suite(name)
        assert len(suite.tasks) == size, name
        assert len(set(suite.task_names())) == size, name


@pytest.mark.parametrize("name", list(EXPECTED_SIZES))
def test_every_task_config_is_a_valid_vgf_config(name: str) -> None:
    suite = get_suite(name)
    keys = {frozenset(task.config(suite.evaluations)) for task in suite.tasks}
    assert len(keys) == 1, (
        "tasks of one suite must set the same keys (the sweep looks them up per task)"
    )
    for task in suite.tasks:
        config = VGFConfig().update_from_dict({**suite.config, **task.config(suite.evaluations)})
        config.validate()
        assert config.eval_interval == 1
        assert config.updates_per_iteration == task.training_steps // suite.evaluations


@pytest.mark.parametrize(
    ("suite", "task", "gamma", "target", "l_train", "eps", "steps"),
    [
        (
            "ogbench-manipulation",
            "puzzle-4x4-play-singletask-task3-v0",
            0.99,
            "mean",
            5,
            0.1,
            1_000_000,
        ),
        (
            "ogbench-manipulation",
            "cube-double-play-singletask-task1-v0",
            0.99,
            "mean",
            1,
            0.05,
            1_000_000,
        ),
        ("ogbench-manipulation", "scene-play-singletask-task5-v0", 0.99, "mean", 1, 0.1, 1_000_000),
        (
            "ogbench-locomotion",
            "antmaze-large-navigate-singletask-task2-v0",
            0.995,
            "min",
            5,
            0.1,
            2_000_000,
        ),
        (
            "ogbench-locomotion",
            "antmaze-giant-navigate-singletask-task1-v0",
            0.995,
            "min",
            1,
            0.1,
            3_000_000,
        ),
        (
            "ogbench-locomotion",
            "antsoccer-arena-navigate-singletask-task4-v0",
            0.995,
            "mean",
            2,
            0.05,
            1_000_000,
        ),
        (
            "ogbench-default-tasks",
            "humanoidmaze-medium-navigate-singletask-v0",
            0.995,
            "mean",
            1,
            0.05,
            1_000_000,
        ),
        ("d4rl-antmaze", "antmaze-large-diverse-v1", 0.995, "min", 5, 0.1, 2_000_000),
        ("d4rl-antmaze", "antmaze-umaze-v1", 0.99, "min", 1, 0.1, 1_000_000),
        ("d4rl-locomotion", "hopper-medium-v0", 0.99, "min", 1, 0.1, 1_000_000),
    ],
)
def test_per_environment_defaults(suite, task, gamma, target, l_train, eps, steps) -> None:
    found = get_suite(suite).task(task)
    assert found.settings == {
        "gamma": gamma,
        "target_twin_agg": target,
        "train_flow_steps": l_train,
        "step_size": eps,
    }
    assert found.training_steps == steps


def test_ogbench_task_names_parse_with_the_data_layer() -> None:
    for name in (
        "ogbench-manipulation",
        "ogbench-pointmaze",
        "ogbench-locomotion",
        "ogbench-default-tasks",
    ):
        for task in get_suite(name).tasks:
            parsed = parse_singletask_name(task.name)
            assert task.dataset == task.env == f"ogbench:{task.name}"
            assert task.data.name == parsed.dataset
    default = get_suite("ogbench-default-tasks").task("cube-single-play-singletask-v0")
    assert parse_singletask_name(default.name).task is None


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(
        SuiteError, match="unknown suite 'nope'; valid suites: smoke, smoke-pointmaze"
    ):
        get_suite("nope")
    with pytest.raises(SuiteError, match="valid tasks: .*cube-single-play-singletask-task1-v0"):
        get_suite("ogbench-manipulation").task("cube-single-task1")


def test_data_sources_say_what_is_missing_and_how_to_get_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    cube = get_suite("ogbench-manipulation").task("cube-single-play-singletask-task2-v0").data
    assert [p.name for p in cube.missing(str(tmp_path))] == [
        "cube-single-play-v0.npz",
        "cube-single-play-v0-val.npz",
    ]
    assert (
        cube.instructions(str(tmp_path))
        == f"vgf-rllib data generate cube-single-play-v0 --dir {tmp_path}"
    )
    for path in cube.files(str(tmp_path)):
        path.write_bytes(b"")
    assert cube.missing(str(tmp_path)) == []

    ant = get_suite("ogbench-locomotion").tasks[0].data
    assert "official download" in ant.instructions(str(tmp_path))
    assert "ogbench.download_datasets(['antmaze-large-navigate-v0']" in ant.instructions(
        str(tmp_path)
    )

    umaze = get_suite("d4rl-antmaze").task("antmaze-umaze-v1").data
    assert umaze.instructions() == "minari download D4RL/antmaze/umaze-v1"
    assert umaze.missing() == [tmp_path / "minari" / "D4RL/antmaze/umaze-v1" / "data"]

    assert get_suite("smoke").tasks[0].data.missing() == []
