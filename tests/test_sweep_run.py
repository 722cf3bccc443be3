"""A real sweep through Tune: interrupted, resumed from checkpoints, every trial finished."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from vgf_rllib.cli import main

TINY_SWEEP = Path(__file__).parent / "data" / "sweep_tiny.yaml"
EVALUATIONS, STEPS, TRIALS = 3, 120, 8


def _results(trial: Path) -> list[dict]:
    return [
        json.loads(line)
        for line in (trial / "result.json").read_text().splitlines()
        if line.strip()
    ]


def test_interrupted_sweep_resumes_from_checkpoints(tiny_sweep: Path) -> None:
    trials = [path for path in tiny_sweep.iterdir() if (path / "params.json").is_file()]
    assert len(trials) == TRIALS
    restored = 0
    for trial in trials:
        assert not (trial / "error.txt").exists(), (trial / "error.txt").read_text()
        last = _results(trial)[-1]
        assert last["training_iteration"] == EVALUATIONS
        assert last["num_gradient_updates_lifetime"] == STEPS
        assert {"L0", "L1", "L2", "best_score", "best_test_flow_steps"} <= set(last["vgf_eval"])
        assert any(trial.glob("checkpoint_*"))
        restored += last["iterations_since_restore"] < last["training_iteration"]
    assert restored >= 1, "no trial continued from a checkpoint after the interruption"


def test_sweep_records_suite_and_tasks_for_the_report(tiny_sweep: Path) -> None:
    metadata = yaml.safe_load((tiny_sweep / "vgf_sweep.yaml").read_text())
    assert metadata["suite"] == "smoke"
    assert metadata["search"] == ["seed", "step_size"]
    assert {task["name"] for task in metadata["tasks"].values()} == {
        "offset-bandit",
        "offset-bandit-2000",
    }
    datasets = {
        json.loads((t / "params.json").read_text())["dataset"] for t in tiny_sweep.glob("VGF_*")
    }
    assert datasets == set(metadata["tasks"])


def test_existing_experiment_is_not_overwritten(tiny_sweep: Path, capsys) -> None:
    assert main(["sweep", str(TINY_SWEEP), "--storage", str(tiny_sweep.parent)]) == 2
    assert "already holds this sweep: resume it" in capsys.readouterr().err


def test_resume_needs_an_experiment(tmp_path: Path, capsys) -> None:
    assert main(["sweep", str(TINY_SWEEP), "--storage", str(tmp_path), "--resume"]) == 2
    assert f"no Tune experiment to resume at {tmp_path}/sweep_tiny" in capsys.readouterr().err


def test_sweep_ends_with_a_score_summary(tiny_sweep: Path) -> None:
    from vgf_rllib.experiments.reporting import score_summary

    summary = score_summary(tiny_sweep)
    assert "best configuration per task" in summary
    metadata = yaml.safe_load((tiny_sweep / "vgf_sweep.yaml").read_text())
    for task in metadata["tasks"].values():
        assert task["name"] in summary
