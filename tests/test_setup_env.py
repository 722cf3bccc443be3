"""scripts/setup_env.sh installs into a new .venv, skips the install when .venv was set up for
this checkout with the same pyproject.toml and TORCH_SPEC, and installs again when either
changed. Run on a copy of the script with a stand-in Python that logs its calls (no pip)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "setup_env.sh"
FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "{log}"
if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi
"""


def test_setup_installs_once_per_checkout_and_pyproject(tmp_path):
    checkout, log = tmp_path / "checkout", tmp_path / "calls.log"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, checkout / "scripts" / "setup_env.sh")
    (checkout / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTHON.format(log=log))
    fake.chmod(0o755)

    def setup(**env: str) -> list[str]:
        log.write_text("")
        subprocess.run(["bash", str(checkout / "scripts" / "setup_env.sh")], check=True,
                       env={**os.environ, "PYTHON": str(fake), **env})
        return log.read_text().splitlines()

    first = setup()
    assert first[0] == "-m venv .venv" and any("install --quiet -e .[test]" in c for c in first)
    assert setup() == []  # set up for this checkout: nothing installed
    assert any("-e .[test]" in c for c in setup(TORCH_SPEC="torch"))  # another torch
    (checkout / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '2'\n")
    again = setup(TORCH_SPEC="torch")
    assert "-m venv .venv" not in again and any("-e .[test]" in c for c in again)
    assert setup(TORCH_SPEC="torch") == []
    shutil.rmtree(checkout / ".venv")  # CI: no .venv, a full install
    assert setup()[0] == "-m venv .venv"
