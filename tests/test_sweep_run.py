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
    params = [json.loads((t / "params.json").read_text()) for t in tiny_sweep.glob("VGF_*")]
    assert {p["task_name"] for p in params} == set(metadata["tasks"])
    assert {p["dataset"] for p in params} == {t["dataset"] for t in metadata["tasks"].values()}


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


def test_offline_to_online_sweep_collects_after_the_offline_rounds(tmp_path: Path) -> None:
    """tune_configs/smoke-off2on.yaml as written: 2 offline rounds of 150 gradient steps, then 2
    online rounds of 150 env steps (50 warm-up steps without updates), an evaluation after each."""
    config = Path(__file__).resolve().parents[1] / "tune_configs" / "smoke-off2on.yaml"
    assert main(["sweep", str(config), "--storage", str(tmp_path)]) == 0
    trials = [p for p in (tmp_path / "smoke-off2on").iterdir() if (p / "params.json").is_file()]
    assert len(trials) == 2
    for trial in trials:
        results = _results(trial)
        env_steps = [r["num_online_env_steps_lifetime"] for r in results]
        updates = [r["num_gradient_updates_lifetime"] for r in results]
        assert env_steps == [0, 0, 150, 300]
        assert updates == [150, 300, 400, 550]
        assert all({"L0", "L1"} <= set(r["vgf_eval"]) for r in results)
    assert main(["report", str(tmp_path / "smoke-off2on")]) == 0
    report = (tmp_path / "smoke-off2on" / "report" / "smoke-off2on.md").read_text()
    assert "| 550 (+300 env) |" in report  # gradient and online env steps of the last evaluation
