"""Crash safety of `vgf-rllib train`: real runs killed with SIGKILL and SIGTERM, then resumed;
atomic checkpoints with manifests; Ray processes reaped after a SIGKILL (docs/runs.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vgf_rllib.cli.process_reaper import descendants
from vgf_rllib.run_dir import CheckpointError, RunDir, module_dir, verify_checkpoint

ITERATIONS, UPDATES = 6, 150
SMALL = ["--set", "critic_hidden_layers=[32,32]", "--set", "sampler_hidden_layers=[32,32]",
         "--set", "num_particles=4", "--set", "train_batch_size_per_learner=64", "--set", "seed=3"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def train_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "vgf_rllib.cli", "train", *args]


def new_run(output: Path) -> list[str]:
    return train_command(
        "--dataset", "demo:offset-bandit", "--iterations", str(ITERATIONS),
        "--updates-per-iteration", str(UPDATES), "--eval-episodes", "0", *SMALL,
        "--output", str(output),
    )


def start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_iterations(process: subprocess.Popen, results: Path, count: int) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        if results.is_file() and len(results.read_text().splitlines()) >= count:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError(f"no {count} iterations within 120 s")


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()
            and "(Z)" not in Path(f"/proc/{pid}/stat").read_text()[:64]}  # zombies are dead


def assert_all_die(pids: set[int], seconds: float = 15.0) -> None:
    """The processes exit within `seconds` (Ray's reaper needs a moment on a loaded machine)."""
    deadline = time.time() + seconds
    while alive(pids) and time.time() < deadline:
        time.sleep(0.2)
    assert not alive(pids), f"left behind: {alive(pids)}"


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> list[dict]:
    """The results of the same run without interruption (same seed)."""
    run = tmp_path_factory.mktemp("whole") / "run"
    subprocess.run(new_run(run), env=ENV, check=True, capture_output=True)
    return records(run)


def assert_continuous_and_exact(run: Path, uninterrupted: list[dict]) -> None:
    resumed = records(run)
    assert [r["iteration"] for r in resumed] == list(range(1, ITERATIONS + 1))
    assert [r["num_gradient_updates_lifetime"] for r in resumed] == [
        UPDATES * i for i in range(1, ITERATIONS + 1)
    ]
    for mine, theirs in zip(resumed, uninterrupted):  # same losses: same weights, batches, noise
        assert (mine["critic_loss"], mine["flow_loss"]) == (theirs["critic_loss"], theirs["flow_loss"])
    kept = [p.name for p in RunDir.at(run).checkpoints()]
    assert kept[-1] == f"iter_{ITERATIONS:06d}" and len(kept) <= 3  # newest 2 + best


def test_sigkill_mid_iteration_then_resume(tmp_path, uninterrupted):
    run = tmp_path / "run"
    process = start(new_run(run))
    wait_for_iterations(process, run / "results.jsonl", 2)
    time.sleep(0.3)  # inside iteration 3 (or saving it)
    tree = descendants(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = len(records(run))
    checkpoint = RunDir.at(run).latest_checkpoint()
    assert int(checkpoint.name.split("_")[1]) >= done - 1  # at most one iteration lost
    assert_all_die(tree)

    resumed = subprocess.run(train_command("--resume", str(run)), env=ENV, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"from {checkpoint.name}" in resumed.stdout
    assert_continuous_and_exact(run, uninterrupted)


def test_sigterm_stops_with_a_checkpoint_then_resume(tmp_path, uninterrupted):
    run = tmp_path / "run"
    process = start(new_run(run))
    wait_for_iterations(process, run / "results.jsonl", 1)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM
    assert f"continue with: vgf-rllib train --resume {run.resolve()}" in err
    done = len(records(run))
    assert RunDir.at(run).latest_checkpoint().name == f"iter_{done:06d}"  # nothing lost
    assert done < ITERATIONS

    resumed = subprocess.run(train_command("--resume", str(run)), env=ENV, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert_continuous_and_exact(run, uninterrupted)
    # a finished run resumes to a longer total without redoing anything
    longer = subprocess.run(
        train_command("--resume", str(run), "--iterations", str(ITERATIONS + 1)),
        env=ENV, capture_output=True, text=True,
    )
    assert longer.returncode == 0, longer.stderr
    assert [r["iteration"] for r in records(run)] == list(range(1, ITERATIONS + 2))


def test_resume_refuses_changed_settings_and_missing_runs(tmp_path, capsys):
    from vgf_rllib.cli import main

    run = tmp_path / "run"
    RunDir.at(run).write_info({"dataset": "demo:offset-bandit", "env": None, "overrides": [],
                               "success_timing": None, "iterations": 2, "updates_per_iteration": 5})
    assert main(["train", "--resume", str(run), "--set", "critic_hidden_layers=[8]"]) == 2
    assert "--set ['critic_hidden_layers=[8]'] differs from the run's []" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--dataset", "other.npz"]) == 2
    assert "--dataset 'other.npz' differs" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "nowhere")]) == 2
    assert "no such run" in capsys.readouterr().err


# --- atomic checkpoints ----------------------------------------------------------------------


def fake_save(payload: bytes):
    def save(folder: str) -> None:
        Path(folder, "sub").mkdir(parents=True)
        Path(folder, "sub", "weights.pt").write_bytes(payload)
        Path(folder, "meta.json").write_text("{}")

    return save


def test_checkpoints_verify_and_fall_back_to_the_newest_intact_one(tmp_path, capsys):
    run = RunDir.at(tmp_path)
    for iteration in (1, 2, 3):
        run.save_checkpoint(fake_save(bytes(1000)), iteration, score=float(iteration % 3))
    # a save killed before its rename leaves only a hidden folder, which is ignored
    (run.checkpoints_dir / ".partial-iter_000004" / "sub").mkdir(parents=True)
    assert run.latest_checkpoint().name == "iter_000003"
    weights = run.checkpoint_path(3) / "sub" / "weights.pt"
    flipped = bytearray(weights.read_bytes())
    flipped[100:500] = b"\xff" * 400  # same size, different bytes
    weights.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="does not match its checksum"):
        verify_checkpoint(run.checkpoint_path(3))
    (run.checkpoint_path(2) / "sub" / "weights.pt").write_bytes(bytes(10))  # truncated
    assert run.latest_checkpoint().name == "iter_000001"
    err = capsys.readouterr().err
    assert "iter_000003: file sub/weights.pt does not match its checksum" in err
    assert "iter_000002: file sub/weights.pt has 10 bytes, the manifest says 1000" in err
    (run.checkpoint_path(1) / "meta.json").unlink()
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        run.latest_checkpoint()


def test_pruning_keeps_the_newest_and_the_best(tmp_path):
    run = RunDir.at(tmp_path)
    for iteration, score in enumerate([0.1, 0.9, 0.2, 0.3, 0.4], start=1):
        run.save_checkpoint(fake_save(b"w"), iteration, score=score)
        run.prune_checkpoints(keep_last=2)
    assert [p.name for p in run.checkpoints()] == ["iter_000002", "iter_000004", "iter_000005"]
    assert run.best_checkpoint().name == "iter_000002"


def test_a_failed_save_leaves_earlier_checkpoints_intact(tmp_path):
    run = RunDir.at(tmp_path)
    run.save_checkpoint(fake_save(b"w"), 1)

    def disk_full(folder: str) -> None:
        Path(folder).mkdir()
        Path(folder, "weights.pt").write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(CheckpointError, match="iteration 2 .*No space left on device.*earlier checkpoints are intact"):
        run.save_checkpoint(disk_full, 2)
    assert [p.name for p in run.checkpoints()] == ["iter_000001"]
    assert not list(run.checkpoints_dir.glob(".partial-*"))
    assert run.latest_checkpoint().name == "iter_000001"


def test_paths_name_the_wrong_folder_level(tmp_path):
    run = RunDir.at(tmp_path)
    run.write_info({})

    def save(folder: str) -> None:
        (Path(folder) / "learner_group" / "learner" / "rl_module" / "default_policy").mkdir(parents=True)

    checkpoint = run.save_checkpoint(save, 1)
    with pytest.raises(CheckpointError, match="wrong folder level"):
        module_dir(run.checkpoints_dir)
    with pytest.raises(CheckpointError, match="wrong folder level"):
        module_dir(checkpoint / "learner_group")
    assert module_dir(tmp_path) == checkpoint / "learner_group" / "learner" / "rl_module" / "default_policy"


# --- Ray processes ---------------------------------------------------------------------------

DRIVER = """
import sys, time
from vgf_rllib.cli.ray_session import ray_session
with ray_session(True):
    print("ready", flush=True)
    time.sleep(300)
"""


def test_ray_processes_die_with_a_sigkilled_driver():
    pytest.importorskip("ray")
    driver = subprocess.Popen([sys.executable, "-c", DRIVER], env=ENV, stdout=subprocess.PIPE, text=True)
    assert driver.stdout.readline().strip() == "ready"
    time.sleep(3)  # Ray's agents start shortly after ray.init returns
    tree = descendants(driver.pid)
    assert len(tree) >= 3  # gcs server, raylet, agents, the reaper
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert_all_die(tree)


def test_results_after_the_checkpoint_are_dropped_and_a_cut_line_ignored(tmp_path):
    run = RunDir.at(tmp_path)
    lines = [json.dumps({"iteration": i, "critic_loss": 1.0 / i}) for i in (1, 2, 3, 4)]
    run.results_file.write_text("\n".join(lines) + '\n{"iteration": 5, "crit')  # killed mid-write
    assert [r["iteration"] for r in run.read_results()] == [1, 2, 3, 4]
    kept = run.keep_results_through(2)
    assert [r["iteration"] for r in kept] == [1, 2]
    assert [r["iteration"] for r in run.read_results()] == [1, 2]
    assert run.results_file.read_text().endswith("\n")
