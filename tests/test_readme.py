"""The README's snippets run as written, in a fresh folder (CLI lines through `.venv/bin/`
without an activated venv; Python blocks in order, later ones loading what earlier ones saved).

The two setup commands at the top (`examples/quickstart.sh`, `scripts/test.sh`) are not run
here: CI runs the second, and the first creates its own venv.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SETUP_COMMANDS = ("examples/quickstart.sh", "scripts/test.sh", "examples/pointmaze_check.sh")


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def runnable_bash_blocks() -> list[str]:
    return [block for block in blocks("bash") if not any(c in block for c in SETUP_COMMANDS)]


@pytest.fixture
def fresh_folder(tmp_path) -> Path:
    """A folder whose `.venv/bin/vgf-rllib` is this environment's console script."""
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "vgf-rllib").symlink_to(Path(sys.executable).parent / "vgf-rllib")
    return tmp_path


def run(command: list[str], folder: Path) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    result = subprocess.run(command, cwd=folder, env=environment, capture_output=True, text=True)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def test_readme_has_the_snippets_this_test_runs():
    assert len(runnable_bash_blocks()) >= 5 and len(blocks("python")) >= 4


@pytest.mark.slow  # about 7 minutes on 2 CPU cores: `bash scripts/test.sh -m slow`
def test_readme_snippets_run_as_written(fresh_folder):
    """The CLI blocks in order (train, A-VGF, resume, export, online), then every Python block
    in order, each in its own interpreter (so each needs its own imports)."""
    for block in runnable_bash_blocks():
        run(["bash", "-euo", "pipefail", "-c", block], fresh_folder)
    assert (fresh_folder / "runs" / "demo" / "evaluation.json").is_file()
    assert (fresh_folder / "policy.pt2").is_file()
    outputs = [run([sys.executable, "-c", block], fresh_folder).stdout for block in blocks("python")]
    assert (fresh_folder / "runs" / "api-ckpt").is_dir()
    assert any(re.search(r"reward -?\d+\.\d{3}", out) for out in outputs)
