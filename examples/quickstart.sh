#!/usr/bin/env bash
# The README's main command: set up, train VGF on the built-in delayed-reward task
# (`demo:delayed-chain`: 4 moves, reward only after the last; VGF must bootstrap), print its
# success table per L_test, then score behavior cloning (N = 1, L_test = 0) on the same episodes.
# About 2 minutes on 2 CPU cores after installation. Knobs (environment variables):
# RUN_DIR (runs/quickstart), EPISODES (50 per L_test), EXTRA_ARGS (more `train` options).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export MUJOCO_GL="${MUJOCO_GL:-disable}"
RUN_DIR="${RUN_DIR:-runs/quickstart}"
.venv/bin/vgf-rllib train --dataset demo:delayed-chain --iterations 3 --updates-per-iteration 500 \
  --set critic_hidden_layers=[64,64] --set sampler_hidden_layers=[64,64] \
  --set sampler_euler_steps=5 --set train_batch_size_per_learner=128 ${EXTRA_ARGS:-} \
  --eval-episodes "${EPISODES:-50}" --output "$RUN_DIR"
echo
echo "Behavior cloning (one flow sample, N = 1, L_test = 0) on the same episodes:"
.venv/bin/vgf-rllib evaluate "$RUN_DIR" --num-particles 1 --test-flow-steps 0 --episodes "${EPISODES:-50}"
