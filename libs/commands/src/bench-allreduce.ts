import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@ddpm/runtime';
import { encodeImageGrid } from '@ddpm/data';
import { PRESET_NAMES, resolvePreset, UNet, type UNetConfig } from '@ddpm/unet';
import type { WireDtype } from '@ddpm/protocol';
import type { Topology } from '@ddpm/runtime';
import { rawZmqGbps } from './raw-zmq-bandwidth.ts';
import { DDPM_BIN } from './ddpm-bin.ts';
import { linkBytes } from './cluster-figures.ts';

export interface AllreduceBenchOptions {
  readonly workers: number;
  readonly params: number;
  readonly computeMs: number;
  readonly steps: number;
  /** Steps excluded from the median (connection set-up, first allocations). */
  readonly warmup: number;
  /** Gradient bucket size in MiB (ddpm coordinator --bucket-mb). */
  readonly bucketMb: number;
  readonly topology?: Topology;
  readonly wireDtype?: WireDtype;
}

/** The JSON line `ddpm bench allreduce` prints. Times in milliseconds, bandwidths in Gbit/s. */
export interface AllreduceBenchResult {
  readonly bench: 'allreduce';
  readonly topology: Topology;
  readonly wire_dtype: WireDtype;
  readonly workers: number;
  readonly params: number;
  readonly compute_ms: number;
  readonly step_ms: number;
  readonly comm_ms: number;
  readonly bytes_per_step: number;
  readonly bound_ms: number;
  readonly bus_gbps: number;
  readonly raw_zmq_gbps: number;
}

/**
 * Runs the real coordinator and `workers` real worker processes over TCP on localhost, with each worker's data loading
 * and compute replaced by sleeps totalling `computeMs` (`ddpm worker --simulate-compute-ms`: a third for the forward
 * pass, then each gradient bucket is sent after its share of the rest, as backpropagation would produce it); the
 * model is the preset with exactly `params` parameters, so every byte goes through the real path: protocol codec,
 * CRC-32, the bucketed streaming reduce (on the bucket owners with --topology sharded), each bucket's update sent back
 * while the workers still compute, clipping, Adam and the EMA on the coordinator, the update applied on every worker,
 * and the parameter checksum.
 *
 * Reports the median step time after `warmup` steps; comm_ms = step_ms − compute_ms (the communication and
 * optimiser time the compute did not hide: transfers, checksums, reduce, Adam). bytes_per_step counts what enters and
 * leaves the coordinator (star: 2·N·S, sharded: 2·S, for S = P·4 bytes, P·2 with bfloat16). bound_ms is the least time
 * the busiest process's traffic (both ways; see linkBytes) takes at the raw ZeroMQ bandwidth measured in the same run.
 * bus_gbps follows nccl-tests: algbw = S / comm time, busbw = algbw · 2(N−1)/N.
 */
export async function benchAllreduce(options: AllreduceBenchOptions): Promise<AllreduceBenchResult> {
  const { workers, params, computeMs, steps, warmup } = options;
  const { topology = 'star', wireDtype = 'float32' } = options;
  const preset = presetWithParameters(params);
  const bytes = params * (wireDtype === 'bfloat16' ? 2 : 4);
  const rawGbps = await rawZmqGbps(bytes);
  const out = mkdtempSync(join(tmpdir(), 'ddpm-bench-allreduce-'));
  const children: ChildProcess[] = [];
  try {
    const port = await freePort();
    const args = allreduceArgs({ ...options, preset, endpoint: `tcp://127.0.0.1:${port}`, out });
    const coordinator = spawn(process.execPath, args.coordinator, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(coordinator);
    const spawned = Array.from({ length: workers }, (_, i) =>
      spawn(process.execPath, args.worker(i + 1), { stdio: ['ignore', 'ignore', 'pipe'] }),
    );
    children.push(...spawned);
    const stepMs = await medianStepMs(coordinator, out, steps, warmup, spawned);
    const commMs = Math.max(stepMs - computeMs, 1e-3);
    const link = linkBytes(topology, workers, bytes);
    const bytesPerStep = 2 * link.coordinator;
    const boundMs = ((2 * Math.max(link.coordinator, link.worker) * 8) / (rawGbps * 1e9)) * 1000;
    const busGbps = ((bytes * 8) / (commMs / 1000) / 1e9) * ((2 * (workers - 1)) / workers);
    const round = (x: number): number => Math.round(x * 1000) / 1000;
    return {
      bench: 'allreduce',
      topology,
      wire_dtype: wireDtype,
      workers,
      params,
      compute_ms: computeMs,
      step_ms: round(stepMs),
      comm_ms: round(commMs),
      bytes_per_step: bytesPerStep,
      bound_ms: round(boundMs),
      bus_gbps: round(busGbps),
      raw_zmq_gbps: round(rawGbps),
    };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * The command lines (after the node executable) of the benchmark's coordinator, which runs `steps` steps once
 * `workers` have joined and writes into `out`, and of worker `i`, named bench-i, whose compute is a sleep.
 */
export function allreduceArgs(
  options: Omit<AllreduceBenchOptions, 'warmup'> & {
    preset: string;
    endpoint: string;
    out: string;
    maxWorkers?: number;
    wireDtype?: WireDtype;
    topology?: Topology;
    /** Worker i's --peer-endpoint (sharded topology). */
    peerEndpoint?: (i: number) => string;
  },
): { coordinator: string[]; worker: (i: number) => string[] } {
  const { preset, endpoint, out, workers, steps, bucketMb, computeMs } = options;
  const common = ['--no-metrics', '--backend', 'cpu'];
  const data = benchData(resolvePreset(preset), join(out, 'data'));
  const coordinator = [
    ...[
      DDPM_BIN,
      'coordinator',
      '--preset',
      preset,
      '--steps',
      String(steps),
      '--bind',
      endpoint,
      '--out',
      runDir(out),
    ],
    ...['--min-workers', String(workers), '--max-workers', String(options.maxWorkers ?? 64)],
    ...['--sample-every', '0', '--sample-count', '1', '--sample-steps', '1', '--checkpoint-every', '0'],
    ...['--bucket-mb', String(bucketMb), '--wire-dtype', options.wireDtype ?? 'float32'],
    ...['--topology', options.topology ?? 'star'],
    ...[...data.coordinator, ...common],
  ];
  const worker = (i: number): string[] => [
    ...[DDPM_BIN, 'worker', '--connect', endpoint, '--name', `bench-${i}`],
    ...['--simulate-compute-ms', String(computeMs), ...data.worker, ...common],
    ...(options.topology === 'sharded' ? ['--peer-endpoint', options.peerEndpoint?.(i) ?? 'tcp://127.0.0.1:0'] : []),
  ];
  return { coordinator, worker };
}

/**
 * Waits for the benchmark coordinator to finish (an Error with its last stderr otherwise) and returns the median step
 * time in milliseconds of its run in `out`, after the first `warmup` steps.
 */
export async function medianStepMs(
  coordinator: ChildProcess,
  out: string,
  steps: number,
  warmup: number,
  workers: readonly ChildProcess[] = [],
): Promise<number> {
  const tail = (child: ChildProcess): (() => string) => {
    let text = '';
    child.stderr?.on('data', (chunk: Buffer) => (text = (text + chunk.toString()).slice(-4000)));
    return () => text;
  };
  const stderr = tail(coordinator);
  // A worker that dies would leave the coordinator waiting for it forever: fail with its last words instead.
  const workerDeath = new Promise<never>((_, reject) =>
    workers.forEach((worker, i) => {
      const last = tail(worker);
      worker.once('exit', (code, signal) => {
        if (code !== 0 && signal !== 'SIGKILL')
          reject(new Error(`benchmark worker ${i + 1} exited with status ${code ?? signal}: ${last()}`));
      });
    }),
  );
  const coordinatorExit = new Promise<number>((resolve) => coordinator.once('exit', (c) => resolve(c ?? 1)));
  const code = await Promise.race([coordinatorExit, workerDeath]);
  if (code !== 0) throw new Error(`the benchmark coordinator exited with status ${code}: ${stderr()}`);
  const seconds = readFileSync(join(runDir(out), 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { step_seconds: number }).step_seconds);
  const timed = seconds.slice(warmup).sort((a, b) => a - b);
  if (timed.length === 0)
    throw new Error(`--steps ${steps} leaves no timed step after --warmup ${warmup}; raise --steps.`);
  return 1000 * timed[Math.floor(timed.length / 2)];
}

/** The coordinator's --out inside the benchmark's scratch directory `out` (beside the synthetic data, so it starts empty). */
export function runDir(out: string): string {
  return join(out, 'run');
}

/** The preset whose U-Net has exactly `params` parameters; the error lists the sizes available. */
export function presetWithParameters(params: number): string {
  const sizes = PRESET_NAMES.map((name) => ({ name, count: new UNet(resolvePreset(name)).parameterCount() }));
  const match = sizes.find((s) => s.count === params);
  if (match === undefined) {
    throw new Error(
      `--params ${params} is not the size of a model this build has; use one of ${sizes.map((s) => `${s.count} (${s.name})`).join(', ')}.`,
    );
  }
  return match.name;
}

/**
 * A dataset the preset accepts, for the coordinator and the workers alike: the bundled MNIST for greyscale 28x28
 * presets, otherwise 64 synthetic PNGs with the preset's channels written to `dir`, which both sides resize to the
 * preset's size (the benchmark never looks at pixels; the coordinator only needs images of the model's shape to
 * shard). Workers get the same --image-size so that their dataset fingerprint matches the coordinator's.
 */
export function benchData(config: UNetConfig, dir: string): { coordinator: string[]; worker: string[] } {
  if (config.inChannels === 1 && config.imageSize === 28)
    return { coordinator: ['--data', 'mnist'], worker: ['--data', 'mnist'] };
  mkdirSync(dir, { recursive: true });
  const { imageSize: size, inChannels: channels } = config;
  for (let i = 0; i < 64; i++) {
    const pixels = Float32Array.from({ length: size * size * channels }, (_, k) => Math.sin(i * 7919 + k));
    writeFileSync(
      join(dir, `image-${String(i).padStart(2, '0')}.png`),
      encodeImageGrid(pixels, 1, size, size, channels),
    );
  }
  return { coordinator: ['--data', dir], worker: ['--data', dir, '--image-size', String(size)] };
}
