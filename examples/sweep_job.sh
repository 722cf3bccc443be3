#!/usr/bin/env bash
# Run a VGF sweep as a Ray job on a local single-node Ray cluster, then fetch its report.
#
#   examples/sweep_job.sh [TUNE_CONFIG] [extra `vgf-rllib sweep` arguments...]
#   e.g. examples/sweep_job.sh tune_configs/smoke.yaml --max-concurrent 2
#
# Uses the repository's .venv (made by scripts/setup_env.sh) when it exists, without activating it;
# otherwise `ray` and `python` of an environment with vgf-rllib's dependencies on PATH. The repository is shipped to the cluster as the job's working_dir (runtime_env), so the
# trials import this checkout of vgf_rllib. Environment: OUT_DIR (default runs/job-example; gets
# sweeps/ and report/), RAY_NUM_CPUS (default 2). The head uses free ports and its own temp dir, so
# other Ray sessions on this machine neither see nor join it; it is stopped (by PID) on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
if [ -x .venv/bin/ray ]; then export PATH="$PWD/.venv/bin:$PATH"; fi
# Ray >= 2.52 protects the dashboard/job API with a token (~/.ray/auth_token) once a token exists;
# use it explicitly so the head and the `ray job` client agree.
export RAY_AUTH_MODE=${RAY_AUTH_MODE:-token}
CONFIG=${1:-tune_configs/smoke.yaml}
shift $(( $# > 0 ? 1 : 0 ))
OUT_DIR=$(realpath -m "${OUT_DIR:-runs/job-example}")
NAME=$(basename "$CONFIG" .yaml)
STORAGE="$OUT_DIR/sweeps"
SUBMISSION_ID="vgf-sweep-$NAME-$(date +%s)"

free_port() { python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
GCS_PORT=$(free_port)
DASHBOARD_PORT=$(free_port)
AGENT_PORT=$(free_port)
TEMP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vgf-ray-XXXXXX")  # keep it short: Ray socket paths
mkdir -p "$OUT_DIR"

echo "== starting a Ray head on 127.0.0.1:$GCS_PORT (dashboard 127.0.0.1:$DASHBOARD_PORT)"
ray start --head --block --node-ip-address 127.0.0.1 --port "$GCS_PORT" \
    --dashboard-host 127.0.0.1 --dashboard-port "$DASHBOARD_PORT" \
    --dashboard-agent-listen-port "$AGENT_PORT" --num-cpus "${RAY_NUM_CPUS:-2}" \
    --temp-dir "$TEMP_DIR" --disable-usage-stats > "$OUT_DIR/ray-head.log" 2>&1 &
HEAD_PID=$!
stop_head() {
    echo "== stopping the Ray head (pid $HEAD_PID)"
    kill -TERM "$HEAD_PID" 2>/dev/null && wait "$HEAD_PID" 2>/dev/null || true
    # The head's own processes (raylet, GCS, workers) can outlive it by a few seconds and still write
    # session files: wait for the ones started with this temp dir, then remove it.
    for _ in $(seq 30); do
        pgrep -f -- "$TEMP_DIR" > /dev/null || break
        sleep 1
    done
    for _ in $(seq 5); do
        rm -rf "$TEMP_DIR" 2>/dev/null && return 0
        sleep 1
    done
    echo "could not remove Ray's temp dir $TEMP_DIR (processes still writing to it); remove it by hand" >&2
}
trap stop_head EXIT
export RAY_ADDRESS="http://127.0.0.1:$DASHBOARD_PORT"   # where the `ray job` commands below go

# The job server accepts submissions once the head's dashboard agent is up: retry the submission only.
for attempt in $(seq 60); do
    ray job submit --no-wait --submission-id "$SUBMISSION_ID" --working-dir . \
        --runtime-env-json '{"excludes": [".git", "runs", "results", "*.egg-info"]}' \
        -- python -m vgf_rllib.cli sweep "$CONFIG" --storage "$STORAGE" "$@" > "$OUT_DIR/submit.log" 2>&1 && break
    if ! kill -0 "$HEAD_PID" 2>/dev/null || [ "$attempt" = 60 ]; then
        echo "could not submit the job; submit and head logs:" >&2
        cat "$OUT_DIR/submit.log" "$OUT_DIR/ray-head.log" >&2
        exit 1
    fi
    sleep 2
done
echo "== submitted $CONFIG as job $SUBMISSION_ID; following its logs"
ray job logs --follow "$SUBMISSION_ID"
STATUS=$(ray job status "$SUBMISSION_ID" 2>&1)
if [[ "$STATUS" != *"Job '$SUBMISSION_ID' succeeded"* ]]; then
    echo "$STATUS" >&2
    exit 1
fi

# The sweep wrote to $STORAGE on the head node; on a cluster use shared storage (NFS, or s3://... synced
# to a local folder first) so that this machine can read it.
echo "== report"
python -m vgf_rllib.cli report "$STORAGE/$NAME" --out "$OUT_DIR/report"
