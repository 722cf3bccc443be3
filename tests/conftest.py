"""Shared fixtures: one local Ray session for every test that needs Ray.

Starting Ray is the fixed cost of these tests (on a 2-core machine about 16-30 s to the first
result and 2-3 GB of memory for the Ray processes, against seconds for a bare script), so all
tests share one ``ray.init``.
"""

from __future__ import annotations

import os

# The learner compiles its update step by default (compile_learner=True; docs/algorithm.md,
# "Compiled update step"): 10-60 s per network shape on 2 CPU cores, far longer than the tiny
# trainings of these tests. The session, and every process it starts (CLI runs, Ray workers,
# Tune trials), runs with TorchDynamo off, which makes torch.compile run its function eagerly;
# tests/test_compiled_update.py turns it back on and checks the compiled step equals the eager one.
os.environ["TORCHDYNAMO_DISABLE"] = "1"

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """The third-party warnings that vgf_rllib silences for its users are silenced in the tests'
    output too (pytest restores the warning filters after collection, where vgf_rllib installs them)."""
    from vgf_rllib.logs import WARNING_NOISE

    for message in WARNING_NOISE:
        config.addinivalue_line("filterwarnings", f"ignore:{message}")


def _refuse_network(*args, **kwargs):
    raise AssertionError("tests must not touch the network")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that opens a URL or connects a socket (the data loaders must not download)."""
    monkeypatch.setattr(urllib.request, "urlopen", _refuse_network)
    monkeypatch.setattr(socket.socket, "connect", _refuse_network)


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """A 2-CPU local Ray started once per test session (Ray start costs 15-30 s here); always a new
    one (``address="local"``), never a cluster someone started on this machine with `ray start`."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def trained_demo_module(ray_session: None):
    """VGF trained on the demo bandit (best actions beside the data's main mode)."""
    from demo_training import train_demo_module

    return train_demo_module(seed=0, updates_per_iteration=200)


REPO = Path(__file__).resolve().parents[1]
TINY_SWEEP = REPO / "tests" / "data" / "sweep_tiny.yaml"


@pytest.fixture(scope="session")
def tiny_sweep(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/data/sweep_tiny.yaml run for real: its driver (a second process on the test session's
    Ray) is interrupted with SIGINT after the first checkpoint, then the sweep is resumed to the
    end. Returns the experiment folder."""
    import ray

    from vgf_rllib.cli import main

    storage = tmp_path_factory.mktemp("sweeps")
    command = [
        sys.executable,
        "-m",
        "vgf_rllib.cli",
        "sweep",
        str(TINY_SWEEP),
        "--storage",
        str(storage),
    ]
    log = storage / "interrupted-driver.log"
    with log.open("w") as out:
        driver = subprocess.Popen(
            [*command, "--address", ray.get_runtime_context().gcs_address],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 300
        while not any(storage.glob("sweep_tiny/*/checkpoint_*")):
            assert driver.poll() is None and time.monotonic() < deadline, log.read_text()[-4000:]
            time.sleep(0.5)
        driver.send_signal(signal.SIGINT)
        assert driver.wait(timeout=120) == 1
    assert "interrupted: continue with the same command plus --resume" in log.read_text()
    assert main(["sweep", str(TINY_SWEEP), "--storage", str(storage), "--resume"]) == 0
    return storage / "sweep_tiny"
