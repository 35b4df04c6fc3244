#!/usr/bin/env bash
# One ddpm worker, started once per GPU by the srun step of deploy/slurm/ddpm.sbatch. Slurm sets
# CUDA_VISIBLE_DEVICES to this task's GPU (--gpus-per-task=1); the worker's name is host-localid, unique in the job.
# Every worker serves /metrics on port 9401 + its local task id (several share a node).
set -euo pipefail
: "${DDPM_HOME:?set by ddpm.sbatch}" "${DDPM_COORDINATOR_HOST:?set by ddpm.sbatch}"
DDPM_LAUNCHER="${DDPM_LAUNCHER:-}"
WORKER_NAME="$(hostname -s)-${SLURM_LOCALID:-0}"
METRICS_PORT=$((9401 + ${SLURM_LOCALID:-0}))

ddpm() {
  # shellcheck disable=SC2086 # DDPM_LAUNCHER is a command prefix, split on purpose
  exec $DDPM_LAUNCHER node "$DDPM_HOME/apps/cli/bin/ddpm.js" "$@"
}

ddpm worker --name "$WORKER_NAME" --connect "tcp://$DDPM_COORDINATOR_HOST:${DDPM_PORT:-5555}" \
  --data "${DDPM_DATA:-mnist}" --backend "${DDPM_BACKEND:-tensorflow}" --connect-timeout 300 \
  --metrics-port "$METRICS_PORT" --metrics-host 0.0.0.0
