"""The README's snippets, and those of the docs pages that took the README's longer examples, run
as written, in a fresh folder (CLI lines through `.venv/bin/` without an activated venv; Python
blocks each in its own interpreter), in page order: later snippets use what earlier ones wrote
(the README's own-data file, `runs/demo` of docs/results.md resumed and exported in docs/runs.md).

The setup commands (`examples/quickstart.sh`, `scripts/test.sh`, `examples/pointmaze_check.sh`)
are not run here: CI runs the second, and the others create their own venv or need generated data.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
#: pages whose snippets run, in this order (docs/runs.md resumes and exports results.md's runs/demo)
SNIPPET_PAGES = (README, *(REPO / "docs" / name for name in ("results.md", "runs.md", "algorithm.md")))
SETUP_COMMANDS = ("examples/quickstart.sh", "scripts/test.sh", "examples/pointmaze_check.sh")
CLI = ".venv/bin/vgf-rllib"


def snippets(page: Path) -> list[tuple[str, str]]:
    """``(language, code)`` of the page's bash and python blocks, in page order."""
    return re.findall(r"^```(bash|python)\n(.*?)^```", page.read_text(), flags=re.S | re.M)


def runnable(page: Path) -> list[tuple[str, str]]:
    return [
        (language, code) for language, code in snippets(page)
        if language == "python" or not any(c in code for c in SETUP_COMMANDS)
    ]


def blocks(language: str) -> list[str]:
    return [code for page in SNIPPET_PAGES for lang, code in runnable(page) if lang == language]


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
    readme = runnable(README)
    assert sum(lang == "bash" for lang, _ in readme) >= 1
    assert sum(lang == "python" for lang, _ in readme) >= 3
    assert len(blocks("bash")) >= 7 and len(blocks("python")) >= 5


def test_every_page_with_cli_snippets_is_run():
    """A docs page that shows `.venv/bin/vgf-rllib` lines must be one this test runs."""
    unchecked = [
        page.name for page in sorted((REPO / "docs").glob("*.md"))
        if page not in SNIPPET_PAGES and any(CLI in code for _, code in snippets(page))
    ]
    assert not unchecked, f"add these pages to SNIPPET_PAGES: {unchecked}"


@pytest.mark.slow  # 7-10 minutes on 2 CPU cores: `bash scripts/test.sh -m slow`
def test_readme_snippets_run_as_written(fresh_folder):
    """Every runnable block of SNIPPET_PAGES in order: the README's own-data file, its check,
    training, evaluation and export, its Python API, then the docs pages' demo runs (train,
    A-VGF, resume, export, online)."""
    outputs = []
    for page in SNIPPET_PAGES:
        for language, code in runnable(page):
            command = ["bash", "-euo", "pipefail", "-c", code] if language == "bash" else [sys.executable, "-c", code]
            outputs.append(run(command, fresh_folder).stdout)
    for written in ("pendulum.npz", "runs/own/evaluation.json", "own.pt2", "runs/api-ckpt",
                    "runs/demo/evaluation.json", "policy.pt2"):
        assert (fresh_folder / written).exists(), written
    assert any(re.search(r"reward -?\d+\.\d{3}", out) for out in outputs)
