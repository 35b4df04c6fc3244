import type { WireDtype } from '@ddpm/protocol';
import type { Topology } from '@ddpm/runtime';

export interface ClusterFigureInputs {
  readonly topology: Topology;
  readonly workers: number;
  readonly linkGbps: number;
  readonly params: number;
  readonly computeMs: number;
  /** The dtype of the gradients on the wire (updates are float32). */
  readonly wireDtype: WireDtype;
  /** The median measured step. */
  readonly stepMs: number;
}

/** The JSON line `ddpm bench cluster` prints. Times in milliseconds, bandwidths in Gbit/s, bytes per step. */
export interface ClusterBenchResult {
  readonly bench: 'cluster';
  readonly topology: Topology;
  readonly workers: number;
  readonly link_gbps: number;
  readonly params: number;
  readonly wire_dtype: WireDtype;
  readonly compute_ms: number;
  readonly step_ms: number;
  readonly comm_ms: number;
  readonly bytes_max_link_per_step: number;
  /** Into the coordinator (gradients, or reduced buckets) and out of it (updates of an unclipped step), per step. */
  readonly bytes_up_per_step: number;
  readonly bytes_down_per_step: number;
  readonly bound_ms: number;
  readonly bus_gbps: number;
  readonly scaling_efficiency: number;
}

/**
 * The figures of one measured configuration.
 * - bytes_max_link_per_step: the most any one link carries in one direction per step, S = 4·params (2 with bfloat16:
 *   gradients, reduced buckets and the update deltas of unclipped steps; a clipped step's update is float32). Star: the
 *   coordinator's link, N gradients in and N updates out (N·S). Sharded: a worker's link, (N−1)/N·S of parts to the
 *   owners, S/N reduced to the coordinator and (N−1)/N·S of updates forwarded: (2N−1)/N·S (the coordinator's: S).
 * - bound_ms: that many bytes at the link speed, the least transfer time of a step with no compute.
 * - comm_ms = step_ms − compute_ms (what the compute did not hide); bus_gbps follows nccl-tests:
 *   S / comm time · 2(N−1)/N, so a bandwidth-optimal exchange approaches the link speed at any N.
 * - scaling_efficiency = compute_ms / step_ms (1 when communication is fully hidden).
 */
export function clusterFigures(inputs: ClusterFigureInputs): ClusterBenchResult {
  const { topology, workers, linkGbps, params, computeMs, stepMs, wireDtype } = inputs;
  const bytes = params * (wireDtype === 'bfloat16' ? 2 : 4);
  const link = linkBytes(topology, workers, bytes);
  const [up, down] = [link.coordinator, link.coordinator];
  const bytesMaxLink = Math.round(Math.max(up, down, link.worker));
  const boundMs = ((bytesMaxLink * 8) / (linkGbps * 1e9)) * 1000;
  const commMs = Math.max(stepMs - computeMs, 1e-3);
  const busGbps = ((bytes * 8) / (commMs / 1000) / 1e9) * ((2 * (workers - 1)) / workers);
  return {
    bench: 'cluster',
    topology,
    workers,
    link_gbps: linkGbps,
    params,
    wire_dtype: wireDtype,
    compute_ms: computeMs,
    step_ms: round(stepMs),
    comm_ms: round(commMs),
    bytes_max_link_per_step: bytesMaxLink,
    bytes_up_per_step: up,
    bytes_down_per_step: down,
    bound_ms: round(boundMs),
    bus_gbps: round(busGbps),
    scaling_efficiency: round(stepMs > 0 ? computeMs / stepMs : 0),
  };
}

/**
 * Bytes one step moves over the coordinator's link and over a worker's, each direction, for `bytes` of gradient per
 * worker (see clusterFigures).
 */
export function linkBytes(topology: Topology, workers: number, bytes: number): { coordinator: number; worker: number } {
  return topology === 'star'
    ? { coordinator: workers * bytes, worker: bytes }
    : { coordinator: bytes, worker: ((2 * workers - 1) / workers) * bytes };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
