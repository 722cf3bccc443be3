"""Suite definitions: task lists, per-environment settings and their sources, schedules, data."""

from __future__ import annotations

from pathlib import Path

import pytest

from vgf_rllib import VGFConfig
from vgf_rllib.data.ogbench_catalog import parse_singletask_name
from vgf_rllib.experiments.suites import (
    ENV_DEFAULTS,
    NO_SCRIPT,
    SCRIPT_COMMON,
    Schedule,
    SuiteError,
    env_defaults,
    get_suite,
    suite_names,
)

EXPECTED_SIZES = {
    "smoke": 2,
    "smoke-pointmaze": 1,
    "ogbench-manipulation": 25,
    "ogbench-pointmaze": 20,
    "ogbench-locomotion": 25,
    "ogbench-default-tasks": 10,
    "d4rl-locomotion": 9,
    "d4rl-antmaze": 6,
    "smoke-off2on": 1,
    "ogbench-off2on": 1,
    "d4rl-antmaze-off2on": 2,
    "ogbench-off2on-avgf": 10,
    "d4rl-antmaze-off2on-avgf": 2,
}
OFFLINE_SUITES = [name for name in EXPECTED_SIZES if "off2on" not in name]


def test_suite_sizes_and_unique_task_names() -> None:
    assert set(suite_names()) == set(EXPECTED_SIZES)
    for name, size in EXPECTED_SIZES.items():
        suite = get_suite(name)
        assert len(suite.tasks) == size, name
        assert len(set(suite.task_names())) == size, name


@pytest.mark.parametrize("name", list(EXPECTED_SIZES))
def test_every_task_config_is_a_valid_vgf_config(name: str) -> None:
    suite = get_suite(name)
    keys = {frozenset(task.config(suite.schedule)) for task in suite.tasks}
    assert len(keys) == 1, (
        "tasks of one suite must set the same keys (the sweep looks them up per task)"
    )
    for task in suite.tasks:
        config = VGFConfig().update_from_dict({**suite.config, **task.config(suite.schedule)})
        config.validate()
        assert config.eval_interval == 1
        rounds = task.rounds(suite.schedule)
        assert config.updates_per_iteration * rounds == task.training_steps + task.online_env_steps
        if task.online_env_steps:  # a round is as many env steps online as gradient steps offline
            assert config.offline_updates == task.training_steps
            assert config.online_steps_per_iteration == config.updates_per_iteration
            assert config.online_sync_steps == min(1000, config.updates_per_iteration)


@pytest.mark.parametrize(
    ("suite", "task", "settings", "offline", "rounds", "source"),
    [
        (
            "ogbench-off2on", "puzzle-3x3-play-singletask-task4-v0",
            (0.99, "mean", 5, 0.1, 1.0, "vgf", 10), 1_000_000, 20,
            "run_vgf_off2on_ogbench.sh, active block",
        ),
        (
            "d4rl-antmaze-off2on", "antmaze-large-diverse-v1",
            (0.99, "min", 5, 0.1, 0.1, "vgf", 10), 500_000, 30,
            "run_vgf_off2on_d4rl.sh, active block",
        ),
        (
            "ogbench-off2on-avgf", "antsoccer-arena-navigate-singletask-v0",
            (0.995, "mean", 2, 0.05, 1.0, "a-vgf", 5), 1_000_000, 20,
            "run_a_vgf_off2on_ogbench.sh",
        ),
        (
            "ogbench-off2on-avgf", "scene-play-singletask-v0",
            (0.99, "mean", 1, 0.1, 1.0, "a-vgf", 5), 1_000_000, 20,
            "run_a_vgf_off2on_ogbench.sh",
        ),
        (
            "d4rl-antmaze-off2on-avgf", "antmaze-medium-play-v1",
            (0.99, "min", 5, 0.1, 1.0, "a-vgf", 5), 1_000_000, 40,
            "run_a_vgf_off2on_d4rl.sh",
        ),
    ],
)  # fmt: skip
def test_offline_to_online_rows(suite, task, settings, offline, rounds, source) -> None:
    """The authors' off2on script rows: 1M online env steps after the offline phase."""
    found_suite = get_suite(suite)
    found = found_suite.task(task)
    config = VGFConfig().update_from_dict(
        {**found_suite.config, **found.config(found_suite.schedule)}
    )
    assert (
        config.gamma, config.target_twin_agg, config.train_flow_steps, config.step_size,
        config.alpha, config.variant, config.num_particles,
    ) == settings
    assert (found.training_steps, found.online_env_steps) == (offline, 1_000_000)
    assert found.rounds(found_suite.schedule) == rounds
    assert env_defaults(found).source.startswith(source)


def test_online_phase_must_start_on_a_round_boundary() -> None:
    task = get_suite("smoke-off2on").tasks[0]
    assert task.split(Schedule(evaluations=4)) == (4, 150)
    with pytest.raises(SuiteError, match="offline phase of 300 gradient steps does not end"):
        task.split(Schedule(evaluations=3))  # 600 / 3 = 200 per round


def test_benchmark_suites_evaluate_at_the_protocol_interval() -> None:
    """OGBench every 100k steps, D4RL every 50k, 50 episodes at L_test 0..3, whatever the budget."""
    for name, interval in [
        ("ogbench-manipulation", 100_000),
        ("ogbench-pointmaze", 100_000),
        ("ogbench-locomotion", 100_000),
        ("ogbench-default-tasks", 100_000),
        ("d4rl-locomotion", 50_000),
        ("d4rl-antmaze", 50_000),
    ]:
        suite = get_suite(name)
        assert suite.schedule == Schedule(eval_interval_steps=interval)
        assert suite.config["eval_episodes"] == 50
        assert suite.config["test_flow_steps"] == [0, 1, 2, 3]
        for key, value in SCRIPT_COMMON.items():
            assert suite.config[key] == value
        for task in suite.tasks:
            assert task.config(suite.schedule)["updates_per_iteration"] == interval
            assert task.rounds(suite.schedule) == task.training_steps // interval
    giant = get_suite("ogbench-locomotion").task("antmaze-giant-navigate-singletask-task1-v0")
    assert giant.rounds(Schedule(eval_interval_steps=100_000)) == 30


def test_schedule_refuses_budgets_it_cannot_split() -> None:
    assert Schedule(evaluations=4).split(2000) == (4, 500)
    assert Schedule(eval_interval_steps=100_000).split(2_000_000) == (20, 100_000)
    with pytest.raises(SuiteError, match="cannot be split into an evaluation every 300 steps"):
        Schedule(eval_interval_steps=300).split(1000)
    with pytest.raises(SuiteError, match="3 evenly spaced evaluations"):
        Schedule(evaluations=3).split(1000)
    with pytest.raises(ValueError, match="exactly one of"):
        Schedule(eval_interval_steps=10, evaluations=2)
    with pytest.raises(ValueError, match="exactly one of"):
        Schedule()


OGB = "run_vgf_off_ogbench.sh"
D4RL = "run_vgf_off_d4rl.sh"
OGB_SETS = {"step_size": (0.01, 0.05), "alpha": (0.2, 0.5)}


@pytest.mark.parametrize(
    ("suite", "task", "gamma", "target", "l_train", "eps", "alpha", "steps", "source"),
    [
        (
            "ogbench-manipulation",
            "puzzle-4x4-play-singletask-task3-v0",
            0.99, "mean", 3, 0.05, 0.5, 1_000_000, f"{OGB}, active block",
        ),
        (
            "ogbench-manipulation",
            "cube-double-play-singletask-task1-v0",
            0.99, "mean", 3, 0.05, 0.5, 1_000_000, f"{OGB}, commented block",
        ),
        (
            "ogbench-manipulation",
            "scene-play-singletask-task5-v0",
            0.99, "mean", 3, 0.05, 0.5, 1_000_000, f"{OGB}, commented block",
        ),
        (
            "ogbench-locomotion",
            "antmaze-large-navigate-singletask-task2-v0",
            0.995, "min", 3, 0.05, 0.5, 2_000_000, f"{OGB}, commented block",
        ),
        (
            "ogbench-locomotion",
            "antmaze-giant-navigate-singletask-task1-v0",
            0.99, "min", 3, 0.05, 0.5, 3_000_000, f"{OGB}, commented block",
        ),
        (
            "ogbench-locomotion",
            "antsoccer-arena-navigate-singletask-task4-v0",
            0.995, "mean", 3, 0.05, 0.5, 1_000_000, f"{OGB}, commented block",
        ),
        (
            "ogbench-default-tasks",
            "humanoidmaze-medium-navigate-singletask-v0",
            0.995, "mean", 3, 0.05, 0.5, 1_000_000, f"{OGB}, commented block",
        ),
        (
            "d4rl-antmaze",
            "antmaze-large-diverse-v1",
            0.99, "min", 5, 0.1, 0.1, 1_000_000, f"{D4RL}, active block",
        ),
        ("d4rl-antmaze", "antmaze-umaze-v1", 0.99, "min", 1, 0.1, 1.0, 1_000_000, NO_SCRIPT),
        ("d4rl-locomotion", "hopper-medium-v0", 0.99, "min", 1, 0.1, 1.0, 1_000_000, NO_SCRIPT),
        (
            "ogbench-pointmaze",
            "pointmaze-large-navigate-singletask-task2-v0",
            0.99, "min", 1, 0.1, 1.0, 1_000_000, NO_SCRIPT,
        ),
    ],
)  # fmt: skip
def test_per_environment_defaults(
    suite, task, gamma, target, l_train, eps, alpha, steps, source
) -> None:
    """The authors' VGF script rows (docs/settings.md, "Per environment"), each with its source."""
    found = get_suite(suite).task(task)
    assert found.settings == {
        "gamma": gamma,
        "target_twin_agg": target,
        "train_flow_steps": l_train,
        "step_size": eps,
        "alpha": alpha,
    }
    assert found.training_steps == steps
    defaults = env_defaults(found)
    assert defaults.source.startswith(source)
    assert "A-VGF" not in defaults.source


def test_published_value_sets_name_the_chosen_member() -> None:
    """Where a script grids a set, the default is a member and the pick says which and why."""
    for group, defaults in ENV_DEFAULTS.items():
        if not defaults.from_script:
            assert defaults.source == NO_SCRIPT and not defaults.value_sets, group
            continue
        # the offline scripts grid sets; the off2on scripts set single values
        assert bool(defaults.value_sets) != bool(defaults.online_env_steps), group
        for key, values in defaults.value_sets.items():
            assert defaults.settings()[key] in values, (group, key)
        assert not defaults.value_sets or "Default" in defaults.pick, group
        if defaults.source.startswith(OGB):
            assert defaults.value_sets == OGB_SETS, group
    assert ENV_DEFAULTS["d4rl-antmaze-large"].value_sets == {"alpha": (0.05, 0.1)}


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
            assert [p.name for p in task.missing_data("/nonexistent")] == [
                f"{parsed.dataset}.npz", f"{parsed.dataset}-val.npz"
            ]
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
    cube = get_suite("ogbench-manipulation").task("cube-single-play-singletask-task2-v0")
    missing = cube.missing_data(str(tmp_path))
    assert [p.name for p in missing] == ["cube-single-play-v0.npz", "cube-single-play-v0-val.npz"]
    assert (
        cube.how_to_get_data(str(tmp_path))
        == f"vgf-rllib data generate cube-single-play-v0 --dir {tmp_path}"
    )
    for path in missing:
        path.write_bytes(b"")
    assert cube.missing_data(str(tmp_path)) == []

    ant = get_suite("ogbench-locomotion").tasks[0]
    assert "official download" in ant.how_to_get_data(str(tmp_path))
    assert "ogbench.download_datasets(['antmaze-large-navigate-v0']" in ant.how_to_get_data(
        str(tmp_path)
    )

    umaze = get_suite("d4rl-antmaze").task("antmaze-umaze-v1")
    assert umaze.how_to_get_data() == "minari download D4RL/antmaze/umaze-v1"
    assert umaze.missing_data() == [tmp_path / "minari" / "D4RL/antmaze/umaze-v1" / "data"]

    assert get_suite("smoke").tasks[0].missing_data() == []


def test_settings_doc_lists_every_environment_with_its_values_and_source() -> None:
    """docs/settings.md's per-environment table is the suites' ENV_DEFAULTS, row by row."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "settings.md").read_text()
    rows = {
        line.split("|")[1].strip().strip("`"): [cell.strip() for cell in line.split("|")[1:-1]]
        for line in doc.splitlines()
        if line.startswith("| `")
    }
    for group, defaults in ENV_DEFAULTS.items():
        cells = rows[group]
        _, _, gamma, target, l_train, eps, alpha, steps, source = cells
        assert (float(gamma), target, int(l_train)) == (
            defaults.gamma,
            defaults.target_twin_agg,
            defaults.train_flow_steps,
        ), group
        for key, cell in (("step_size", eps), ("alpha", alpha)):
            value = f"{defaults.settings()[key]:g}"
            if key in defaults.value_sets:
                sets = ", ".join(f"{v:g}" for v in defaults.value_sets[key])
                value = f"**{value}** of {{{sets}}}"
            if key == "alpha" and defaults.variant == "a-vgf":
                value = "- (A-VGF has no kernel)"
            assert cell == value, (group, key)
        assert steps == defaults.budget and source == defaults.source, group
    assert ENV_DEFAULTS["off2on/d4rl-antmaze-large"].budget == "500k + 1M online"
