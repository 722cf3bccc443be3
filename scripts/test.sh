#!/usr/bin/env bash
# Set up (scripts/setup_env.sh) and run the default test suite (learning tests marked `slow`
# are excluded; run them with `scripts/test.sh -m slow`). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export RAY_DEDUP_LOGS=0 MUJOCO_GL="${MUJOCO_GL:-disable}"
exec .venv/bin/python -m pytest "$@"
