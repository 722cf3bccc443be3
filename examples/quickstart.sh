#!/usr/bin/env bash
# The README's main command: set up, train VGF on Pendulum-v1 data of uniformly random actions
# (`random:Pendulum-v1`: 100 seeded episodes, 20,000 transitions, generated in memory), print
# its return per L_test, then score behavior cloning (N = 1, L_test = 0) on the same episodes.
# About 3 minutes on 2 CPU cores after installation (45 s of it compile the update step). Knobs (environment variables):
# RUN_DIR (runs/quickstart), EPISODES (50 per L_test), EXTRA_ARGS (more `train` options).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
RUN_DIR="${RUN_DIR:-runs/quickstart}"
.venv/bin/vgf-rllib train --dataset random:Pendulum-v1 --iterations 8 --updates-per-iteration 1000 \
  --set critic_hidden_layers=[64,64] --set sampler_hidden_layers=[64,64] \
  --set sampler_euler_steps=5 --set train_batch_size_per_learner=128 ${EXTRA_ARGS:-} \
  --eval-episodes "${EPISODES:-50}" --output "$RUN_DIR" --overwrite
echo
echo "Behavior cloning (one flow sample, N = 1, L_test = 0) on the same episodes:"
.venv/bin/vgf-rllib evaluate "$RUN_DIR" --num-particles 1 --test-flow-steps 0 --episodes "${EPISODES:-50}"
