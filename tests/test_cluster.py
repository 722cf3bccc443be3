"""VGF sweeps on a simulated multi-node Ray cluster: data shared from the driver, a lost node, a
killed driver (tests/multinode_sweep.py, run as its own process, about 3-6 minutes on 2 cores)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    storage = tmp_path_factory.mktemp("cluster")
    done = subprocess.run(
        [sys.executable, str(REPO / "tests" / "multinode_sweep.py"), str(storage)],
        capture_output=True, text=True, timeout=900, cwd=REPO,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {outcome["scenario"]: outcome for outcome in lines}


def test_trials_on_two_nodes_never_read_the_dataset_files(scenarios) -> None:
    outcome = scenarios["node-loss"]
    assert outcome["datasets_shared"] == 2 and outcome["files_left"] == [False, False]
    assert len(outcome["trial_nodes"]) >= 2, "the trials did not spread over the worker nodes"
    assert outcome["report_exit"] == 0
    assert outcome["report_errored"] == [0, 0]  # a trial that recovered is not reported as failed


def test_a_trial_that_loses_its_node_resumes_from_its_checkpoint(scenarios) -> None:
    outcome = scenarios["node-loss"]
    trials = {trial["task"]: trial for trial in outcome["trials"]}
    assert set(trials) == {"task-0", "task-1"}
    for trial in trials.values():
        assert trial["iterations"] == [1, 2, 3], trial  # every round once, none trained twice
    lost = trials.pop(outcome["removed"]["task"])
    assert lost["since_restore"] < 3, "the trial on the removed node did not restore a checkpoint"
    assert "unavailable" in lost["error"] or "died" in lost["error"], lost["error"]  # Tune's record
    (other,) = trials.values()
    assert other["error"] is None, other["error"]


def test_a_killed_driver_is_resumed_to_the_end(scenarios) -> None:
    outcome = scenarios["driver-kill"]
    assert outcome["resume_exit"] == 0
    assert len(outcome["trials"]) == 2
    for trial in outcome["trials"]:
        assert trial["error"] is None, trial["error"]
        # a round reported after the trial's last checkpoint is trained again (Tune appends it)
        assert trial["iterations"][-1] == 3 and set(trial["iterations"]) == {1, 2, 3}, trial
