"""``vgf-rllib report``: on the sweep recorded by the tiny_sweep fixture (a real run), and on
synthetic experiments for the paper's numbers and the datasets' origin."""

from __future__ import annotations

import json
import shutil
import statistics
from collections import defaultdict
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import yaml

from vgf_rllib.cli import main
from vgf_rllib.data.ogbench_catalog import GENERATOR_KEY
from vgf_rllib.experiments.reporting.paper import CITATION, environment_result, task_result
from vgf_rllib.experiments.reporting.provenance import dataset_origin


def _raw_scores(experiment: Path) -> dict[tuple[str, float, int], list[tuple[float, float]]]:
    """(dataset, step_size, L) -> per trial (final, best) score, read straight from result.json."""
    scores = defaultdict(list)
    for trial in experiment.glob("VGF_*"):
        params = json.loads((trial / "params.json").read_text())
        lines = (trial / "result.json").read_text().splitlines()
        results = [json.loads(line) for line in lines if line.strip()]
        by_iteration = {r["training_iteration"]: r["vgf_eval"] for r in results}  # last run wins
        evals = [by_iteration[i] for i in sorted(by_iteration)]
        for budget in params["test_flow_steps"]:
            series = [record[f"L{budget}"]["score_mean"] for record in evals]
            scores[(params["dataset"], params["step_size"], budget)].append(
                (series[-1], max(series))
            )
    return scores


@pytest.fixture(scope="module")
def report(tiny_sweep: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert main(["report", str(tiny_sweep), "--out", str(out)]) == 0
    return out


def test_table_matches_the_raw_results(tiny_sweep: Path, report: Path) -> None:
    table = pd.read_csv(report / "smoke.csv")
    assert sorted(table.task) == ["offset-bandit", "offset-bandit-2000"]
    raw = _raw_scores(tiny_sweep)
    for row in table.itertuples():
        dataset = f"demo:{row.task}"
        step_size = float(row.config.removeprefix("step_size="))
        runs = raw[(dataset, step_size, row.L)]
        finals, bests = [final for final, _ in runs], [best for _, best in runs]
        assert row.seeds == len(runs) == 2 and row.updates == 120
        assert row.final_mean == pytest.approx(statistics.fmean(finals))
        assert row.final_std == pytest.approx(statistics.pstdev(finals))
        assert row.best_mean == pytest.approx(statistics.fmean(bests))
        for budget in (0, 1, 2):
            expected = statistics.fmean(final for final, _ in raw[(dataset, step_size, budget)])
            assert getattr(row, f"final_L{budget}") == pytest.approx(expected)
        # the chosen (config, L_test) has the task's highest mean final score
        rivals = [
            statistics.fmean(f for f, _ in runs) for key, runs in raw.items() if key[0] == dataset
        ]
        assert row.final_mean == pytest.approx(max(rivals))


def test_markdown_lists_tasks_average_and_figures(report: Path) -> None:
    text = (report / "smoke.md").read_text()
    assert "| task | L_test | final | best | seeds | steps | L0 | L1 | L2 | config |" in text
    assert "| offset-bandit |" in text and "| offset-bandit-2000 |" in text
    assert "| **average** |" in text
    assert "## Per environment" in text and "| demo | 2 |" in text
    assert "## Compared with the paper" not in text  # the demo task has no paper number
    assert "| demo:offset-bandit | built-in demo | unknown | 1 | no paper counterpart |" in text
    for name in ("learning_curves", "test_time_scaling", "sensitivity_step_size"):
        assert f"(smoke_{name}.png)" in text
        image = matplotlib.image.imread(report / f"smoke_{name}.png")
        assert image.shape[0] > 300 and image.shape[1] > 600


def test_all_configurations_are_in_the_configs_csv(report: Path) -> None:
    configs = pd.read_csv(report / "smoke_configs.csv")
    assert len(configs) == 2 * 2 * 3  # tasks x step sizes x L_test
    assert set(configs.config) == {"step_size=0.02", "step_size=0.2"}


def test_report_refuses_a_folder_without_results(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "no trial with VGF evaluations" in capsys.readouterr().err


def test_report_works_without_sweep_metadata(tiny_sweep: Path, tmp_path: Path) -> None:
    """A plain Tune run of VGF (no vgf_sweep.yaml): tasks from the dataset specs, configurations
    from the keys that vary within a task."""
    plain = tmp_path / "plain"
    shutil.copytree(
        tiny_sweep, plain, ignore=shutil.ignore_patterns("checkpoint_*", "vgf_sweep.yaml")
    )
    assert main(["report", str(plain), "--out", str(tmp_path / "out")]) == 0
    table = pd.read_csv(tmp_path / "out" / "plain.csv")
    assert sorted(table.task) == ["offset-bandit", "offset-bandit-2000"]
    assert set(table.config) <= {"step_size=0.02", "step_size=0.2"}


# --- the paper's numbers and the datasets' origin (synthetic experiments, no Ray) ---------------


def _fake_trial(root: Path, name: str, config: dict, scores: list[float], steps: int) -> None:
    """A Tune trial folder with one evaluation per score (L_test 0 and 1; L1 scores +1)."""
    trial = root / name
    trial.mkdir(parents=True)
    (trial / "params.json").write_text(json.dumps(config))
    lines = []
    for index, score in enumerate(scores, start=1):
        record = {f"L{b}": {"score_mean": score + b, "episodes": 50} for b in (0, 1)}
        lines.append(
            json.dumps(
                {
                    "training_iteration": index,
                    "num_gradient_updates_lifetime": steps * index // len(scores),
                    "vgf_eval": record,
                }
            )
        )
    (trial / "result.json").write_text("\n".join(lines) + "\n")


def _write_ogbench_file(directory: Path, dataset: str, record: dict | None) -> None:
    arrays = {"observations": np.zeros((3, 2), np.float32), "terminals": np.zeros(3, bool)}
    if record is not None:
        arrays[GENERATOR_KEY] = np.array(json.dumps(record))
    np.savez(directory / f"{dataset}.npz", **arrays)
    np.savez(directory / f"{dataset}-val.npz", **arrays)


def test_paper_numbers_live_in_one_module_and_say_what_they_are() -> None:
    assert task_result("hopper-medium-v0", "minari:mujoco/hopper/medium-v0").value == 97.9
    assert task_result("antmaze-large-diverse-v1", "minari:D4RL/antmaze/large-diverse-v1").kind == (
        "task"
    )
    assert task_result("antmaze-umaze-v1", "minari:D4RL/antmaze/umaze-v1") is None
    assert task_result("hopper-medium-v0", "ogbench:x") is None  # only Minari stands for D4RL
    cube = environment_result("cube-double-play")
    assert (cube.value, cube.kind, cube.tasks) == (70.0, "environment", 5)
    assert cube.label == "70 (env. avg of 5 tasks)" and "5 tasks" in cube.what
    assert environment_result("cube-single-play") is None  # FQL's 96 is not VGF's
    assert environment_result("puzzle-4x4-play").value == 45.0
    assert "ICLR 2026" in CITATION and "2604.14265" in CITATION


def test_dataset_origin(tmp_path: Path) -> None:
    hopper = dataset_origin("minari:mujoco/hopper/medium-v0")
    assert (hopper.origin, hopper.differs) == ("Minari re-collection", "yes")
    ant = dataset_origin("minari:D4RL/antmaze/umaze-diverse-v1")
    assert ant.differs == "yes" and "per-episode goals" in ant.note
    assert dataset_origin("demo:offset-bandit").differs == "unknown"

    _write_ogbench_file(
        tmp_path, "cube-double-play-v0", {"episodes": 100, "official_episodes": 1000}
    )
    generated = dataset_origin("ogbench:cube-double-play-singletask-task2-v0", str(tmp_path))
    assert (generated.origin, generated.differs) == ("generated locally", "yes")
    assert generated.source == "ogbench:cube-double-play-v0"
    assert "100 of the official 1000 episodes" in generated.note
    _write_ogbench_file(tmp_path, "puzzle-3x3-play-v0", None)
    unmarked = dataset_origin("ogbench:puzzle-3x3-play-singletask-v0", str(tmp_path))
    assert (unmarked.origin, unmarked.differs) == ("unverified", "unknown")
    _write_ogbench_file(tmp_path, "humanoidmaze-medium-navigate-v0", None)
    official = dataset_origin("ogbench:humanoidmaze-medium-navigate-singletask-v0", str(tmp_path))
    assert (official.origin, official.differs) == ("official download", "no")
    absent = dataset_origin("ogbench:scene-play-singletask-v0", str(tmp_path))
    assert absent.origin == "not found" and absent.differs == "unknown"


def test_report_sets_the_papers_numbers_beside_ours(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _write_ogbench_file(data, "cube-double-play-v0", {"episodes": 1000, "official_episodes": 1000})
    experiment = tmp_path / "exp"
    tasks = {
        "minari:mujoco/hopper/medium-v0": ("hopper-medium-v0", "d4rl-locomotion"),
        **{
            f"ogbench:cube-double-play-singletask-task{i}-v0": (
                f"cube-double-play-singletask-task{i}-v0",
                "cube-double-play",
            )
            for i in (1, 2, 3)
        },
    }
    metadata = {
        "suite": "mixed",
        "search": ["seed"],
        "tasks": {spec: {"name": name, "group": group} for spec, (name, group) in tasks.items()},
    }
    experiment.mkdir()
    (experiment / "vgf_sweep.yaml").write_text(yaml.safe_dump(metadata))
    for index, spec in enumerate(tasks):
        for seed in (0, 1):
            config = {"dataset": spec, "dataset_dir": str(data), "seed": seed}
            scores = [10.0 * index + seed, 20.0 * index + seed]
            _fake_trial(experiment, f"VGF_{index}_{seed}", config, scores, 1_000_000)
    out = tmp_path / "out"
    assert main(["report", str(experiment), "--out", str(out)]) == 0

    table = pd.read_csv(out / "mixed.csv").set_index("task")
    hopper = table.loc["hopper-medium-v0"]
    assert (hopper.paper, hopper.data_origin, hopper.data_differs) == (
        97.9,
        "Minari re-collection",
        "yes",
    )
    assert hopper.paper_kind == "D4RL task score"
    cube = table.loc["cube-double-play-singletask-task1-v0"]
    assert cube.paper == 70.0 and "environment average" in cube.paper_kind
    assert cube.data_origin == "generated locally"

    text = (out / "mixed.md").read_text()
    assert "## Compared with the paper" in text and CITATION in text
    # hopper: L1 of the last evaluation, mean over seeds 0 and 1 -> 0 + 0.5 + 1
    assert (
        "| hopper-medium | D4RL task score | 97.9 | 1.5 ± 0.5 | 1.5 | hopper-medium-v0 | 1000000 "
        "| Minari re-collection | no: dataset differs (Minari re-collection) |"
    ) in text
    # cube-double: our average over 3 of the paper's 5 tasks (20, 40, 60 + 1.5)
    assert (
        "| cube-double-play | OGBench environment average over its 5 tasks | 70 | 41.5 | 41.5 "
        "| 3 of 5 | 1000000 | generated locally | no: dataset differs (generated locally); "
        "3 of 5 tasks |"
    ) in text
    assert "## Datasets" in text
    assert "| ogbench:cube-double-play-v0 | generated locally | yes | 3 |" in text
    assert "| minari:mujoco/hopper/medium-v0 | Minari re-collection | yes | 1 |" in text
