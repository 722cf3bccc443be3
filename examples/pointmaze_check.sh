#!/usr/bin/env bash
# Pipeline check on a real OGBench env (not the main job): set up, generate a reduced OGBench
# pointmaze dataset offline with OGBench's own oracle, train VGF on it for a short budget and
# evaluate every L_test (success stays at 0% at this CPU budget: a pipeline check, not a result).
# Knobs (environment variables): EPISODES (100), ITERATIONS (4), UPDATES (500), EVAL_EPISODES (10),
# RUN_DIR (runs/pointmaze-check), VGF_OGBENCH_DIR (data/ogbench), EXTRA_ARGS (more `train` options,
# e.g. "--set num_gpus_per_learner=1").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export VGF_OGBENCH_DIR="${VGF_OGBENCH_DIR:-$PWD/data/ogbench}" MUJOCO_GL="${MUJOCO_GL:-disable}"
DATASET=pointmaze-medium-navigate-v0
TASK=ogbench:pointmaze-medium-navigate-singletask-v0
if [ ! -f "$VGF_OGBENCH_DIR/$DATASET.npz" ]; then
  .venv/bin/vgf-rllib data generate "$DATASET" --episodes "${EPISODES:-100}" --dir "$VGF_OGBENCH_DIR"
fi
.venv/bin/vgf-rllib train --dataset "$TASK" \
  --iterations "${ITERATIONS:-4}" --updates-per-iteration "${UPDATES:-500}" \
  --set critic_hidden_layers=[128,128] --set sampler_hidden_layers=[128,128] \
  --set sampler_euler_steps=5 ${EXTRA_ARGS:-} \
  --eval-episodes "${EVAL_EPISODES:-10}" --output "${RUN_DIR:-runs/pointmaze-check}"
