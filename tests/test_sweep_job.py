"""examples/sweep_job.sh end to end: a private Ray head on 127.0.0.1, the sweep as a Ray job
(package shipped as working_dir), its logs, the report, and the head stopped again."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(not (REPO / ".venv" / "bin" / "ray").exists(), reason="needs the repository's .venv (scripts/setup_env.sh)")
def test_sweep_runs_as_a_ray_job(tmp_path: Path) -> None:
    # no activated venv: the script finds the repository's .venv itself
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if "venv" not in p)
    env = {
        **{k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
        "PATH": path,
        "OUT_DIR": str(tmp_path),
        "RAY_NUM_CPUS": "2",
    }
    env.pop("RAY_ADDRESS", None)
    ray_temp_dirs_before = set(Path(tempfile.gettempdir()).glob("vgf-ray-*"))
    command = [
        "bash",
        "examples/sweep_job.sh",
        "tests/data/sweep_tiny.yaml",
        "--tasks",
        "offset-bandit-2000",
    ]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=420)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    # printed by the job's driver, followed through `ray job logs`
    assert "4 of 4 trial(s) finished, 0 failed" in output
    assert "smoke: best configuration per task" in output and "offset-bandit-2000" in output
    table = pd.read_csv(tmp_path / "report" / "smoke.csv")
    assert list(table.task) == ["offset-bandit-2000"] and table.seeds.item() == 2
    assert (tmp_path / "report" / "smoke_learning_curves.png").is_file()
    head_pid = int(re.search(r"stopping the Ray head \(pid (\d+)\)", output).group(1))
    assert not _alive(head_pid)
    assert "could not remove Ray's temp dir" not in output
    assert set(Path(tempfile.gettempdir()).glob("vgf-ray-*")) <= ray_temp_dirs_before
