"""Sweep files: validation errors, the Tune search space, per-task ASHA, resources, dry runs."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from ray.tune.schedulers import AsyncHyperBandScheduler, TrialScheduler
from ray.tune.search.sample import Categorical, Float, Integer
from ray.tune.search.variant_generator import generate_variants

from vgf_rllib.cli import main
from vgf_rllib.experiments.suites import Schedule, env_defaults
from vgf_rllib.experiments.sweep import (
    PerTaskASHA,
    TaskRounds,
    make_scheduler,
    missing_data,
    param_space,
    trial_resources,
)
from vgf_rllib.experiments.sweep_files import SweepConfigError, load_sweep, parse_sweep

CONFIG_DIR = Path(__file__).resolve().parents[1] / "tune_configs"


def test_every_tune_config_loads_and_names_its_suite() -> None:
    files = sorted(CONFIG_DIR.glob("*.yaml"))
    assert len(files) >= 8
    for path in files:
        spec = load_sweep(path)
        assert spec.suite.name == path.stem.removeprefix("paper-") and spec.name == path.stem
        assert "seed" in spec.search
        header = path.read_text().split("\nsuite:")[0]
        assert "spec section" not in header, path.name
        assert ("A-VGF" in header) == spec.suite.name.endswith("-avgf"), path.name


def test_every_benchmark_tune_config_cites_its_source_block() -> None:
    """Headers name the authors' VGF script and block, or say that none covers the suite."""
    for path in sorted(CONFIG_DIR.glob("*.yaml")):
        lines = path.read_text().split("\nsuite:")[0].splitlines()
        header = " ".join(line.lstrip("# ") for line in lines)
        spec = load_sweep(path)
        rows = [env_defaults(task) for task in spec.tasks]
        for row in {row.source: row for row in rows if row is not None}.values():
            if row.from_script:
                script, _, block = row.source.partition(", ")
                assert script in header, (path.name, script)
                assert block.split(" (")[0] in header, (path.name, block)
            else:
                assert "no vgf script" in header.lower(), path.name


#: paper-<suite>.yaml -> (eval interval in steps, budgets of tasks that differ from 1M)
PAPER_FILES = {
    "paper-ogbench-manipulation.yaml": (100_000, {}),
    "paper-ogbench-locomotion.yaml": (
        100_000,
        {"antmaze-large-navigate": 2_000_000, "antmaze-giant-navigate": 3_000_000},
    ),
    "paper-ogbench-pointmaze.yaml": (100_000, {}),
    "paper-d4rl-antmaze.yaml": (50_000, {}),
    "paper-d4rl-locomotion.yaml": (50_000, {}),
    "paper-ogbench-off2on.yaml": (100_000, {}),
    "paper-d4rl-antmaze-off2on.yaml": (50_000, {"off2on/d4rl-antmaze-large": 500_000}),
    "paper-ogbench-off2on-avgf.yaml": (100_000, {}),
    "paper-d4rl-antmaze-off2on-avgf.yaml": (50_000, {}),
}


def test_paper_files_exist_for_every_benchmark_suite() -> None:
    assert sorted(path.name for path in CONFIG_DIR.glob("paper-*.yaml")) == sorted(PAPER_FILES)


@pytest.mark.parametrize("name", sorted(PAPER_FILES))
def test_paper_files_run_the_papers_protocol(name: str) -> None:
    """Without running: every task of the suite, the protocol's budget, eval interval, episodes
    and L_test, 512x4/N 10/K 10, several seeds, and the script's value sets as grids (a script
    value never replaced by another)."""
    interval, budgets = PAPER_FILES[name]
    spec = load_sweep(CONFIG_DIR / name)
    assert spec.tasks == spec.suite.tasks
    assert spec.training_steps is None and spec.scheduler.type == "fifo"
    assert spec.schedule == Schedule(eval_interval_steps=interval)
    assert spec.search["seed"].kind == "grid" and len(spec.search["seed"].values) >= 3
    for task in spec.tasks:
        config = spec.task_config(task)
        steps = budgets.get(task.group, 1_000_000)
        assert spec.budget(task).training_steps == steps, task.name
        assert config["updates_per_iteration"] == interval and config["eval_interval"] == 1
        online = 1_000_000 if "off2on" in name else 0  # the off2on scripts: 1M env steps online
        assert task.online_env_steps == online, task.name
        assert spec.rounds(task) == (steps + online) // interval
        assert config["eval_episodes"] == 50
        assert config["test_flow_steps"] == [0, 1, 2, 3]
        defaults = env_defaults(task)
        particles = 5 if name.endswith("-avgf.yaml") else 10  # A-VGF scripts: N 5
        assert config["num_particles"] == particles and config["sampler_euler_steps"] == 10
        assert config.get("variant", "vgf") == ("a-vgf" if particles == 5 else "vgf")
        assert config["critic_hidden_layers"] == config["sampler_hidden_layers"] == [512] * 4
        assert config["critic_lr"] == config["sampler_lr"] == 3e-4
        assert config["train_batch_size_per_learner"] == 256
        if task.dataset.startswith("ogbench:"):  # the authors pinned ogbench 1.1.0
            assert config["success_timing"] == "post"
        if not defaults.from_script:
            continue
        for key, values in defaults.value_sets.items():
            assert spec.search[key].kind == "grid", (task.name, key)
            assert tuple(spec.search[key].values) == values, (task.name, key)
        for key, value in defaults.settings().items():
            if key not in defaults.value_sets:
                assert key not in spec.search and config[key] == value, (task.name, key)
    grid = 1
    for dim in spec.search.values():
        grid *= len(dim.values)
    variants = list(generate_variants({"config": param_space(spec)}))
    assert len(variants) == grid * len(spec.tasks)


def test_ogbench_locomotion_paper_trials_stop_at_their_own_budget() -> None:
    spec = load_sweep(CONFIG_DIR / "paper-ogbench-locomotion.yaml")
    stopper = TaskRounds(spec.rounds_by_task())
    giant = "antmaze-giant-navigate-singletask-task3-v0"
    cube = "humanoidmaze-medium-navigate-singletask-task3-v0"
    assert stopper("t", {"training_iteration": 10, "config": {"task_name": cube}})
    assert not stopper("t", {"training_iteration": 10, "config": {"task_name": giant}})
    assert stopper("t", {"training_iteration": 30, "config": {"task_name": giant}})
    assert not stopper.stop_all()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"suite": "smoke", "serach": {}},
            r"unknown key\(s\) \['serach'\]; valid keys: .*'search'",
        ),
        ({}, "needs 'suite' .* or 'tasks' as a list of mappings on your own data"),
        ({"tasks": [{"name": "a", "env": "Pendulum-v1", "training_steps": 10}]},
         r"tasks\[0\]: needs one of 'dataset' .* or 'input_'"),
        ({"tasks": [{"name": "a", "input_": "rec", "dataset": "x.npz", "env": "Pendulum-v1",
                     "training_steps": 10}]},
         r"tasks\[0\]: needs one of 'dataset' .* or 'input_'"),
        ({"tasks": [{"name": "a", "input_": "x", "training_steps": 10}]},
         r"tasks\[0\]: missing required key\(s\) \['env'\]"),
        ({"tasks": [{"name": "a", "dataset": "x.npz", "env": "Pendulum-v1"}]},
         r"tasks\[0\].training_steps: expected an int >= 1, got None"),
        ({"tasks": [{"name": "a", "dataset": "x", "env": "E", "training_steps": 1, "lr": 1}]},
         r"tasks\[0\]: unknown key\(s\) \['lr'\]"),
        ({"tasks": [{"name": "a", "dataset": "x.npz", "env": "E", "training_steps": 1,
                     "input_read_episodes": True}]},
         r"tasks\[0\]: RLlib input fields .* apply to 'input_' tasks only"),
        ({"suite": "smoke", "config": {"input_": "x"}}, r"\['input_'\] are set per task"),
        ({"tasks": [{"name": "a", "dataset": "x", "env": "E", "training_steps": 1}],
          "stop": {"training_steps": 2}}, r"tasks\[0\]: training_steps is set here and in stop"),
        ({"suite": "smok"}, "unknown suite 'smok'; valid suites: smoke"),
        (
            {"suite": "smoke", "tasks": ["bandit"]},
            "unknown task 'bandit' in suite 'smoke'; "
            "valid tasks: offset-bandit, offset-bandit-2000",
        ),
        (
            {"suite": "smoke", "config": {"stepsize": 0.1}},
            r"config: unknown key\(s\) \['stepsize'\]",
        ),
        (
            {"suite": "smoke", "config": {"env": "CartPole-v1"}},
            r"\['env'\] are set per task by the suite",
        ),
        ({"suite": "smoke", "search": {"dataset": {"grid": ["a"]}}}, "set per task by the suite"),
        (
            {"suite": "smoke", "search": {"step_size": [0.1, 0.2]}},
            "expected a mapping with exactly one of",
        ),
        ({"suite": "smoke", "search": {"step_size": {"grd": [0.1]}}}, "unknown search kind 'grd'"),
        ({"suite": "smoke", "search": {"alpha": {"uniform": [1.0, 0.1]}}}, "low < high"),
        ({"suite": "smoke", "search": {"alpha": {"loguniform": [0, 1]}}}, "bounds must be > 0"),
        (
            {"suite": "smoke", "search": {"num_particles": {"randint": [2.5, 8]}}},
            "bounds must be ints",
        ),
        ({"suite": "smoke", "search": {"seed": {"grid": []}}}, "expected a non-empty list"),
        (
            {"suite": "smoke", "config": {"alpha": 1}, "search": {"alpha": {"grid": [1]}}},
            "set each key once",
        ),
        (
            {"suite": "smoke", "resources": {"num_gpus": 1}},
            r"resources: unknown key\(s\) \['num_gpus'\]",
        ),
        ({"suite": "smoke", "resources": {"num_gpus_per_learner": -1}}, "expected a number >= 0"),
        ({"suite": "smoke", "scheduler": "hyperband"}, "unknown scheduler 'hyperband'"),
        (
            {"suite": "smoke", "scheduler": {"type": "asha", "grace_period": 9}},
            "exceeds the 3 evaluations",
        ),
        ({"suite": "smoke", "num_samples": 0}, "num_samples: expected an int >= 1"),
        (
            {"suite": "smoke", "num_samples": 3, "search": {"seed": {"grid": [0, 1]}}},
            r"num_samples: 3 repeats of a grid give identical trials .*search seed: \{grid",
        ),
        ({"suite": "smoke", "stop": {"steps": 10}}, r"stop: unknown key\(s\) \['steps'\]"),
        (
            {"suite": "smoke", "stop": {"evaluations": 3, "eval_interval_steps": 100}},
            "either evaluations .* or eval_interval_steps",
        ),
        (
            {"suite": "smoke", "stop": {"eval_interval_steps": 0}},
            "stop.eval_interval_steps: expected an int",
        ),
        (
            {"suite": "smoke", "stop": {"eval_interval_steps": 700}},
            "task offset-bandit: a budget of 600 gradient steps cannot be split into an "
            "evaluation every 700 steps",
        ),
        (
            {"suite": "ogbench-manipulation", "stop": {"training_steps": 150_000}},
            "cannot be split into an evaluation every 100000 steps",
        ),
    ],
)
def test_invalid_sweeps_fail_with_the_key_named(raw: dict, message: str) -> None:
    with pytest.raises(SweepConfigError, match=message):
        parse_sweep(raw, where="x.yaml")


def test_unreadable_files_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("suite: [smoke\n")
    with pytest.raises(SweepConfigError, match="bad.yaml: invalid YAML"):
        load_sweep(bad)
    with pytest.raises(SweepConfigError, match="cannot read"):
        load_sweep(tmp_path / "absent.yaml")


def test_search_dims_become_tune_domains() -> None:
    spec = parse_sweep(
        {
            "suite": "smoke",
            "search": {
                "step_size": {"loguniform": [0.01, 0.2]},
                "num_particles": {"randint": [2, 4]},
                "alpha": {"choice": [0.1, 1.0]},
                "seed": {"grid": [0, 1, 2]},
            },
        }
    )
    space = param_space(spec)
    assert isinstance(space["step_size"], Float)
    assert isinstance(space["num_particles"], Integer)
    assert (space["num_particles"].lower, space["num_particles"].upper) == (
        2,
        5,
    )  # both ends included
    assert isinstance(space["alpha"], Categorical)
    assert space["seed"] == {"grid_search": [0, 1, 2]}


def test_param_space_resolves_per_task_settings_and_search_overrides() -> None:
    tasks = ["antmaze-large-navigate-singletask-v0", "cube-single-play-singletask-v0"]
    raw = {
        "suite": "ogbench-default-tasks",
        "tasks": tasks,
        "stop": {"evaluations": 4, "training_steps": 400},
    }
    variants = [
        v["config"] for _, v in generate_variants({"config": param_space(parse_sweep(raw))})
    ]
    by_dataset = {v["dataset"]: v for v in variants}
    assert sorted(by_dataset) == sorted(f"ogbench:{t}" for t in tasks)
    puzzle, cube = (by_dataset[f"ogbench:{t}"] for t in tasks)
    assert (puzzle["gamma"], puzzle["target_twin_agg"]) == (0.995, "min")
    assert (cube["gamma"], cube["target_twin_agg"]) == (0.99, "mean")
    assert puzzle["env"] == "ogbench:" + tasks[0] and puzzle["updates_per_iteration"] == 100

    raw["search"] = {"step_size": {"grid": [0.3]}, "seed": {"grid": [0, 1]}}
    variants = [
        v["config"] for _, v in generate_variants({"config": param_space(parse_sweep(raw))})
    ]
    assert len(variants) == 4
    assert {v["step_size"] for v in variants} == {0.3}
    assert {v["gamma"] for v in variants} == {0.99, 0.995}


def _trial(trial_id: str, task: str) -> SimpleNamespace:
    return SimpleNamespace(trial_id=trial_id, config={"task_name": task})


def _results(scheduler: TrialScheduler, trials: list, scores: list[float]) -> list[str]:
    for trial in trials:
        scheduler.on_trial_add(None, trial)
    return [
        scheduler.on_trial_result(None, trial, {"training_iteration": 1, "score": score})
        for trial, score in zip(trials, scores, strict=True)
    ]


def test_asha_runs_per_task() -> None:
    kwargs = dict(
        time_attr="training_iteration",
        metric="score",
        mode="max",
        max_t=4,
        grace_period=1,
        reduction_factor=2,
        brackets=1,
    )
    trials = [
        _trial("a1", "task-a"),
        _trial("a2", "task-a"),
        _trial("b1", "task-b"),
        _trial("a3", "task-a"),
    ]
    scores = [10.0, 20.0, 1.0, 5.0]
    # one ASHA over everything stops task b's only trial because task a scores higher ...
    assert _results(AsyncHyperBandScheduler(**kwargs), trials, scores)[2] == TrialScheduler.STOP
    # ... per task it only competes with its own task, while a3 is still cut against a1/a2
    decisions = _results(PerTaskASHA(**kwargs), trials, scores)
    assert decisions == [
        TrialScheduler.CONTINUE,
        TrialScheduler.CONTINUE,
        TrialScheduler.CONTINUE,
        TrialScheduler.STOP,
    ]


def test_asha_max_t_is_each_tasks_own_number_of_evaluations() -> None:
    spec = parse_sweep(
        {
            "suite": "ogbench-default-tasks",
            "tasks": ["antmaze-giant-navigate-singletask-v0", "cube-single-play-singletask-v0"],
            "scheduler": {"type": "asha", "grace_period": 2},
        }
    )
    scheduler = make_scheduler(spec)
    giant = scheduler._for(_trial("g", "antmaze-giant-navigate-singletask-v0"))
    cube = scheduler._for(_trial("c", "cube-single-play-singletask-v0"))
    assert (giant._max_t, cube._max_t) == (30, 10)


def test_fractional_gpus_reach_the_trial_resources() -> None:
    spec = parse_sweep({"suite": "smoke", "resources": {"num_gpus_per_learner": 0.25}})
    assert trial_resources(spec) == {"CPU": 1.0, "GPU": 0.25}


def test_missing_data_names_the_file_and_the_command(tmp_path: Path) -> None:
    spec = parse_sweep({"suite": "smoke-pointmaze", "config": {"dataset_dir": str(tmp_path)}})
    (line,) = missing_data(spec)
    assert f"{tmp_path}/pointmaze-medium-navigate-v0.npz" in line
    assert f"vgf-rllib data generate pointmaze-medium-navigate-v0 --dir {tmp_path}" in line
    assert missing_data(parse_sweep({"suite": "smoke"})) == []


def test_relative_dataset_dir_becomes_absolute(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec = parse_sweep({"suite": "smoke-pointmaze", "config": {"dataset_dir": "runs/data"}})
    assert spec.dataset_dir == str(tmp_path / "runs/data")
    assert parse_sweep({"suite": "smoke", "config": {"dataset_dir": "~/d"}}).dataset_dir == "~/d"


def test_cli_dry_run_prints_the_plan(capsys, tmp_path: Path) -> None:
    assert (
        main(["sweep", str(CONFIG_DIR / "smoke.yaml"), "--dry-run", "--storage", str(tmp_path)])
        == 0
    )
    out = capsys.readouterr().out
    assert "suite smoke: 2 task(s) x 4 trial(s) = 8" in out
    assert "search step_size: grid [0.02, 0.2]" in out
    assert f"experiment folder: {tmp_path}/smoke" in out


def test_cli_rejects_bad_input_and_missing_data(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("suite: smoke\nsearch: {alpha: {grid: []}}\n")
    assert main(["sweep", str(bad)]) == 2
    assert "search.alpha.grid: expected a non-empty list" in capsys.readouterr().err
    assert main(["sweep", str(CONFIG_DIR / "smoke.yaml"), "--tasks", "nope", "--dry-run"]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err
    maze = tmp_path / "maze.yaml"
    maze.write_text(f"suite: smoke-pointmaze\nconfig: {{dataset_dir: {tmp_path}}}\n")
    assert main(["sweep", str(maze), "--dry-run"]) == 2
    assert "datasets not found" in capsys.readouterr().err


def test_repeated_samples_are_accepted_when_something_is_drawn() -> None:
    spec = parse_sweep(
        {"suite": "smoke", "num_samples": 3, "search": {"alpha": {"loguniform": [0.1, 1.0]}, "seed": {"grid": [0, 1]}}},
        where="x.yaml",
    )
    assert spec.num_samples == 3


def test_own_data_tasks_set_their_data_per_trial(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec = parse_sweep({
        "tasks": [
            {"name": "recorded", "input_": "rec", "input_read_episodes": True,
             "env": "Pendulum-v1", "training_steps": 200},
            {"name": "file", "dataset": "data.npz", "env": "Pendulum-v1", "training_steps": 100},
        ],
        "stop": {"evaluations": 2},
        "search": {"step_size": {"grid": [0.1, 0.2]}},
    })
    assert spec.suite.name == "own-data" and [t.name for t in spec.tasks] == ["recorded", "file"]
    variants = [v["config"] for _, v in generate_variants({"config": param_space(spec)})]
    by_task = {}
    for variant in variants:
        by_task.setdefault(variant["task_name"], []).append(variant)
    recorded, file = by_task["recorded"][0], by_task["file"][0]
    assert len(variants) == 4
    assert (recorded["dataset"], recorded["input_"], recorded["input_read_episodes"]) == (
        None, str(tmp_path / "rec"), True)
    assert (file["dataset"], file["input_"], file["input_read_episodes"]) == (
        str(tmp_path / "data.npz"), "sampler", False)
    assert recorded["updates_per_iteration"] == 100 and file["updates_per_iteration"] == 50
    assert TaskRounds(spec.rounds_by_task())("t", {"training_iteration": 2, "config": recorded})
