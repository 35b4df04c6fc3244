#!/usr/bin/env bash
# One ddpm worker, started once per GPU by the workers' srun step of deploy/slurm/ddpm.sbatch. Slurm sets
# CUDA_VISIBLE_DEVICES to this task's GPU (--gpus-per-task=1); the worker's name is node-localid, unique in the job.
# Every worker serves /metrics on port 9401 + its local task id (several share a node).
# It runs where `node` is: on the node with a checkout (DDPM_HOME), or inside the container when ddpm.sbatch's
# DDPM_LAUNCHER wraps it (every image carries this script at /app/deploy/slurm/ddpm-worker.sh, DDPM_HOME=/app).
# DDPM_BACKEND=webgpu (Vulkan): Mesa's software Vulkan driver (lavapipe) is hidden from the worker unless
# VK_LOADER_DRIVERS_DISABLE is set (even to empty), so a node without a working GPU driver fails instead of training
# on the CPU; and since Vulkan ignores CUDA_VISIBLE_DEVICES, a task that sees several GPUs gets a warning.
set -euo pipefail
: "${DDPM_HOME:?set by ddpm.sbatch}" "${DDPM_COORDINATOR_HOST:?set by ddpm.sbatch}"
# Slurm's name for the node (the same in a container); hostname only outside Slurm
NODE_NAME="${SLURMD_NODENAME:-$(hostname -s)}"
WORKER_NAME="$NODE_NAME-${SLURM_LOCALID:-0}"
METRICS_PORT=$((9401 + ${SLURM_LOCALID:-0}))

if [[ "${DDPM_BACKEND:-tensorflow}" == webgpu ]]; then
  export VK_LOADER_DRIVERS_DISABLE="${VK_LOADER_DRIVERS_DISABLE-*lvp*}"
  visible_gpus="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)"
  if ((${visible_gpus:-0} > 1)); then
    echo "ddpm-worker.sh: $WORKER_NAME sees $visible_gpus GPUs; Vulkan ignores CUDA_VISIBLE_DEVICES, so the workers of this node may all use the same GPU. Ask for ConstrainDevices=yes in Slurm's cgroup.conf, or use --backend tensorflow." >&2
  fi
fi

# --metrics-host 0.0.0.0: Prometheus scrapes the workers from another host (prometheus-slurm.yml). This runs
#   ddpm worker --name "$WORKER_NAME" --connect "tcp://$DDPM_COORDINATOR_HOST:5555" --backend "${DDPM_BACKEND:-tensorflow}" ...
exec node "$DDPM_HOME/apps/cli/bin/ddpm.js" worker --name "$WORKER_NAME" \
  --connect "tcp://$DDPM_COORDINATOR_HOST:${DDPM_PORT:-5555}" \
  --data "${DDPM_DATA:-mnist}" --backend "${DDPM_BACKEND:-tensorflow}" --connect-timeout 300 \
  --metrics-port "$METRICS_PORT" --metrics-host 0.0.0.0
