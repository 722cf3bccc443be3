"""``vgf-rllib report`` on the sweep recorded by the tiny_sweep fixture (a real run)."""

from __future__ import annotations

import json
import shutil
import statistics
from collections import defaultdict
from pathlib import Path

import matplotlib.image
import pandas as pd
import pytest

from vgf_rllib.cli import main


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
