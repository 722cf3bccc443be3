"""Every script in benchmarks/ runs as its docstring says and prints its table, at the smallest
settings its options allow (the numbers themselves are the scripts' business, not these tests'; TorchDynamo
is off in the test session, tests/conftest.py).

Marked `slow` (about 4 minutes in all: each script starts its own Ray and trains); the authors'
code is not needed (`compare_reference.py --only ours`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY_NETWORKS = ["--set", "critic_hidden_layers=[32,32]", "--set", "sampler_hidden_layers=[32,32]"]

pytestmark = pytest.mark.slow


def run_benchmark(script: str, *args: str, cwd: Path = REPO) -> str:
    """Standard output and error of ``python benchmarks/<script> ARGS``; fails on a non-zero exit."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return output


def test_adaptive_budget_compares_auto_with_the_best_fixed_budget() -> None:
    output = run_benchmark("adaptive_budget.py", "--tasks", "offset-bandit", "--variants", "vgf", "--seeds", "0")
    assert "offset-bandit vgf seed 0" in output
    assert "vs best fixed L_test" in output


def test_online_collection_prints_env_steps_per_second() -> None:
    output = run_benchmark("online_collection.py", "--runners", "1", "--iterations", "1", "--steps-per-iteration", "100")
    assert "runners  env steps/s (all)" in output


def test_eval_runners_times_zero_one_and_two_runners_on_equal_records() -> None:
    output = run_benchmark("eval_runners.py", "--episodes", "1", "--budgets", "0", "--rounds", "1")
    assert "hardware: " in output
    assert "runners  seconds (mean)" in output and "records equal to 0 runners' (same weights" in output


def test_offline_to_online_scores_the_checkpoint_and_both_continuations() -> None:
    output = run_benchmark(
        "offline_to_online.py", "--offline-updates", "100", "--online-env-steps", "100",
        "--warmup-steps", "50", "--episodes", "3",
    )
    for row in ("offline checkpoint", "+ online", "+ offline"):
        assert row in output


def test_throughput_prints_training_and_acting_tables() -> None:
    output = run_benchmark("throughput.py", "--configs", "small", "--updates", "3", "--rounds", "1", "--acting-rounds", "1")
    assert output.startswith("hardware: ")
    assert "(c) bare loop, compiled" in output and "ratios: (a)/(c)" in output
    assert "hidden-layer products alone" in output


def test_transport_control_scores_a_run_six_ways(tmp_path: Path) -> None:
    run = tmp_path / "run"
    subprocess.run(
        [sys.executable, "-m", "vgf_rllib.cli", "train", "--dataset", "demo:offset-bandit", "--iterations", "1",
         "--updates-per-iteration", "50", "--eval-episodes", "0", *TINY_NETWORKS, "--output", str(run)],
        check=True, capture_output=True,
    )
    output = run_benchmark("transport_control.py", str(run), "--episodes", "3")
    for column in ("intact", "zeroed", "flipped"):
        assert column in output


def test_compare_reference_runs_our_side_on_generated_ogbench_data(tmp_path: Path) -> None:
    pytest.importorskip("ogbench")
    data = tmp_path / "data"
    subprocess.run(
        [sys.executable, "-m", "vgf_rllib.cli", "data", "generate", "pointmaze-medium-navigate-v0",
         "--episodes", "2", "--dir", str(data), "--quiet", "--no-verify"],
        check=True, capture_output=True,
    )
    output = run_benchmark(
        "compare_reference.py", "--only", "ours", "--task", "pointmaze-medium-navigate-singletask-task1-v0",
        "--dataset-dir", str(data), "--steps", "20", "--eval-interval", "20", "--train-log-interval", "20",
        "--eval-episodes", "1", "--seeds", "0", "--hidden", "32", "32", "--num-particles", "4",
        "--batch-size", "32", "--output", str(tmp_path / "out"),
    )
    assert "Final scores at step 20" in output
    for name in ("curves.csv", "losses.csv", "curves.png", "summary.json"):
        assert (tmp_path / "out" / name).is_file()


def test_shared_data_memory_prints_both_routes() -> None:
    output = run_benchmark("shared_data_memory.py", "--rows", "5000", "--obs-dim", "3",
                           "--action-dim", "1", "--trials", "2")
    assert "per-trial load" in output and "shared " in output
    assert "total memory, shared / per-trial load:" in output


def test_rllib_peers_records_and_scores_every_algorithm(tmp_path: Path) -> None:
    output = run_benchmark(
        "rllib_peers.py", "--root", str(tmp_path), "--record-episodes", "2", "--updates", "4",
        "--updates-per-call", "2", "--seeds", "0", "--episodes", "1", "--settings", "shipped",
    )
    for algo in ("vgf", "bc (shipped)", "cql (shipped)", "iql (shipped)"):
        assert algo in output
    assert "mean of seed means" in output
