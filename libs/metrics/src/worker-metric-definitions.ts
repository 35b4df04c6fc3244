import { DURATION_BUCKETS, type MetricDefinition } from './metric-labels.ts';

/** Every metric a worker exports (and `ddpm_backend_info`, exported by both), keyed by a short handle. */
export const WORKER_METRICS = {
  workerImages: {
    name: 'ddpm_worker_images_total',
    help: 'Images in the local batches this worker computed gradients for.',
    type: 'counter',
    labelNames: ['worker'],
    role: 'worker',
  },
  workerImagesPerSecond: {
    name: 'ddpm_worker_images_per_second',
    help: 'Throughput of this worker in its latest step: local batch size divided by the step wall time.',
    type: 'gauge',
    labelNames: ['worker'],
    role: 'worker',
  },
  workerPhaseDuration: {
    name: 'ddpm_worker_phase_duration_seconds',
    help: 'Worker time per step and phase (data, compute, communication, wait for the others).',
    type: 'histogram',
    labelNames: ['worker', 'phase'],
    role: 'worker',
    buckets: DURATION_BUCKETS,
  },
  workerSentBytes: {
    name: 'ddpm_worker_sent_bytes_total',
    help: 'Bytes this worker sent to the coordinator (gradients, control).',
    type: 'counter',
    labelNames: ['worker'],
    role: 'worker',
  },
  workerReceivedBytes: {
    name: 'ddpm_worker_received_bytes_total',
    help: 'Bytes this worker received from the coordinator (parameters, updates, control).',
    type: 'counter',
    labelNames: ['worker'],
    role: 'worker',
  },
  workerTensors: {
    name: 'ddpm_worker_tfjs_tensors',
    help: 'Tensors this worker holds in tfjs memory after its latest step (tf.memory().numTensors); a rise means a leak.',
    type: 'gauge',
    labelNames: ['worker'],
    role: 'worker',
  },
  workerTensorBytes: {
    name: 'ddpm_worker_tfjs_memory_bytes',
    help: 'Bytes of tensor data this worker holds in tfjs memory after its latest step (tf.memory().numBytes).',
    type: 'gauge',
    labelNames: ['worker'],
    role: 'worker',
  },
  runInfo: {
    name: 'ddpm_run_info',
    help: 'Always 1; run_id and preset name the training run this process belongs to (join on job and instance).',
    type: 'gauge',
    labelNames: ['run_id', 'preset'],
    role: 'both',
  },
  backendInfo: {
    name: 'ddpm_backend_info',
    help: 'Always 1; the backend label names the tfjs backend this process computes with.',
    type: 'gauge',
    labelNames: ['role', 'backend'],
    role: 'both',
  },
} as const satisfies Record<string, MetricDefinition>;
