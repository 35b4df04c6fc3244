import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEmulatedNetwork, planEmulatedNetwork, removeEmulatedNetwork } from '@ddpm/runtime';
import { allreduceArgs, medianStepMs, presetWithParameters } from './bench-allreduce.ts';
import { clusterFigures, type ClusterBenchResult, type ClusterFigureInputs } from './cluster-figures.ts';

export interface ClusterBenchOptions extends Omit<ClusterFigureInputs, 'stepMs'> {
  readonly steps: number;
  readonly warmup: number;
  readonly bucketMb: number;
}

/** Thrown before any work when the bench cannot run here; `ddpm` exits 2 with the message. */
export class ClusterBenchUnavailable extends Error {
  override readonly name = 'ClusterBenchUnavailable';
  readonly exitCode = 2;
}

const PORT = 5555;

/**
 * Runs the real coordinator and `workers` real worker processes (compute simulated as in `bench allreduce`), each in
 * its own network namespace whose link to a shared bridge is shaped to `linkGbps` in both directions, and reports
 * the median step after `warmup` (see clusterFigures). Needs root; removes every namespace it made when it ends, fails
 * or is interrupted (SIGINT, SIGTERM: it then exits 130 or 143).
 */
export async function benchCluster(options: ClusterBenchOptions): Promise<ClusterBenchResult> {
  if (process.getuid?.() !== 0)
    throw new ClusterBenchUnavailable(
      'ddpm bench cluster builds network namespaces and shapes links with tc, which needs root: run it as root (sudo npx ddpm bench cluster ...), or use `ddpm bench allreduce` on loopback.',
    );
  const { workers, steps, warmup, computeMs } = options;
  const preset = presetWithParameters(options.params);
  const plan = planEmulatedNetwork(String(process.pid), workers + 1, options.linkGbps);
  const out = mkdtempSync(join(tmpdir(), 'ddpm-bench-cluster-'));
  const children: ChildProcess[] = [];
  const cleanUp = (): void => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    removeEmulatedNetwork(plan);
    rmSync(out, { recursive: true, force: true });
  };
  const interrupted = (signal: NodeJS.Signals): void => {
    cleanUp();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    buildEmulatedNetwork(plan);
    const endpoint = `tcp://${plan.addresses[0]}:${PORT}`;
    const peerEndpoint = (i: number): string => `tcp://${plan.addresses[i]}:${PORT + 1}`;
    const args = allreduceArgs({ ...options, preset, endpoint, out, peerEndpoint });
    const inHost = (host: number, command: string[]): ChildProcess => {
      const child = spawn('ip', ['netns', 'exec', plan.namespaces[host], process.execPath, ...command], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      children.push(child);
      return child;
    };
    const coordinator = inHost(0, args.coordinator);
    const spawned = Array.from({ length: workers }, (_, i) => inHost(i + 1, args.worker(i + 1)));
    const stepMs = await medianStepMs(coordinator, out, steps, warmup, spawned);
    return clusterFigures({ ...options, computeMs, stepMs });
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    cleanUp();
  }
}
