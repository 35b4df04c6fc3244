#!/usr/bin/env bash
# One ddpm worker, started once per GPU by the srun step of deploy/slurm/ddpm.sbatch. Slurm sets
# CUDA_VISIBLE_DEVICES to this task's GPU (--gpus-per-task=1); the worker's name is host-localid, unique in the job.
# Every worker serves /metrics on port 9401 + its local task id (several share a node).
# DDPM_BACKEND=webgpu (Vulkan): Mesa's software Vulkan driver (lavapipe) is hidden from the worker unless
# VK_LOADER_DRIVERS_DISABLE is set (even to empty), so a node without a working GPU driver fails instead of training
# on the CPU; and since Vulkan ignores CUDA_VISIBLE_DEVICES, a task that sees several GPUs gets a warning.
set -euo pipefail
: "${DDPM_HOME:?set by ddpm.sbatch}" "${DDPM_COORDINATOR_HOST:?set by ddpm.sbatch}"
DDPM_LAUNCHER="${DDPM_LAUNCHER:-}"
WORKER_NAME="$(hostname -s)-${SLURM_LOCALID:-0}"
METRICS_PORT=$((9401 + ${SLURM_LOCALID:-0}))

if [[ "${DDPM_BACKEND:-tensorflow}" == webgpu ]]; then
  export VK_LOADER_DRIVERS_DISABLE="${VK_LOADER_DRIVERS_DISABLE-*lvp*}"
  visible_gpus="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)"
  if ((${visible_gpus:-0} > 1)); then
    echo "ddpm-worker.sh: $WORKER_NAME sees $visible_gpus GPUs; Vulkan ignores CUDA_VISIBLE_DEVICES, so the workers of this node may all use the same GPU. Ask for ConstrainDevices=yes in Slurm's cgroup.conf, or use --backend tensorflow." >&2
  fi
fi

ddpm() {
  # shellcheck disable=SC2086 # DDPM_LAUNCHER is a command prefix, split on purpose
  exec $DDPM_LAUNCHER node "$DDPM_HOME/apps/cli/bin/ddpm.js" "$@"
}

ddpm worker --name "$WORKER_NAME" --connect "tcp://$DDPM_COORDINATOR_HOST:${DDPM_PORT:-5555}" \
  --data "${DDPM_DATA:-mnist}" --backend "${DDPM_BACKEND:-tensorflow}" --connect-timeout 300 \
  --metrics-port "$METRICS_PORT" --metrics-host 0.0.0.0
