#!/usr/bin/env bash
# Create .venv (if missing) and install vgf-rllib with its test extras.
# torch is pinned first so pip takes the CPU wheel where one is provided locally, instead of
# resolving a bare `torch` to the multi-GB CUDA build. Override with TORCH_SPEC, e.g.
#   TORCH_SPEC="torch==2.13.0" PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
# The install is editable, so code changes need no reinstall: once it has succeeded, a stamp in
# .venv (this checkout's path, pyproject.toml's hash and TORCH_SPEC) makes the next call skip it
# until one of those changes. A new .venv (as in CI) always installs.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
STAMP=.venv/.vgf-rllib-setup
KEY="$(pwd) $(sha256sum pyproject.toml | cut -d' ' -f1) $TORCH_SPEC"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
elif [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$KEY" ]; then
  exit 0
fi
rm -f "$STAMP"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "$TORCH_SPEC"
# (PYTHONWARNINGS: setuptools warns at every editable build about same-named folders, nothing to act on)
PYTHONWARNINGS=ignore .venv/bin/python -m pip install --quiet -e ".[test]"
echo "$KEY" > "$STAMP"
