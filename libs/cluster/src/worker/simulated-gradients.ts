import type { Logger } from 'pino';
import type { GradientJob, GradientSource } from './gradient-source.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Benchmark source: sleeps stand in for the compute (a third of `ms` for the forward pass, the rest shared among the
 * buckets by size) and each bucket is reported after its share, last bucket first, as backprop produces them; the
 * gradient keeps its real size (every value 1e-4).
 */
export class SimulatedGradients implements GradientSource {
  constructor(private readonly ms: number) {}

  async compute({ replica, onBucket }: GradientJob): Promise<void> {
    const { gradient, layout } = replica;
    gradient.fill(1e-4);
    const startedMs = performance.now();
    let elapsedShare = this.ms / 3;
    await sleep(elapsedShare);
    for (let bucket = layout.count - 1; bucket >= 0; bucket--) {
      elapsedShare += ((2 * this.ms) / 3) * (layout.size(bucket) / Math.max(1, layout.total));
      await sleep(Math.max(0, startedMs + elapsedShare - performance.now()));
      onBucket(bucket, 1);
    }
  }
}

/** Test hooks that make a worker misbehave on purpose. */
export interface WorkerFaults {
  /** At this step, poison the gradient with a NaN. */
  readonly nanStep?: number;
  /** Sleep this long before computing each step (a slow host; heartbeats keep flowing). */
  readonly delayMs?: number;
  /** At this step, fail the compute as a lost GPU device would. */
  readonly failStep?: number;
  /** At this step, compute but send no gradient bucket (a silent worker; heartbeats keep flowing). */
  readonly silentStep?: number;
}

/**
 * `source` with `faults` injected: a delay before each step, a NaN in the first bucket of one step, a failed step, a
 * step whose buckets are never sent.
 */
export function withFaults(source: GradientSource, faults: WorkerFaults, log: Logger): GradientSource {
  const { nanStep, failStep, silentStep } = faults;
  if (nanStep === undefined && failStep === undefined && silentStep === undefined && !faults.delayMs) return source;
  let silentOnce = silentStep; // once: a step that runs again (sharded topology) is not silent again
  return {
    async compute(job: GradientJob): Promise<void> {
      if (faults.delayMs) await sleep(faults.delayMs);
      const step = job.start.body.step;
      if (faults.failStep === step)
        throw new Error(`test hook DDPM_FAULT_FAIL_STEP: the compute of step ${step} failed`);
      const silent = silentOnce === step;
      if (silent) {
        silentOnce = undefined;
        log.warn({ step }, 'test hook DDPM_FAULT_SILENT_STEP: this step sends no gradient');
      }
      const onBucket: GradientJob['onBucket'] = (bucket, loss, extra) => {
        if (silent) return;
        if (faults.nanStep === step && bucket === 0) {
          job.replica.gradient[0] = Number.NaN;
          log.warn({ step }, 'test hook DDPM_FAULT_NAN_STEP: poisoned the gradient with a NaN');
        }
        job.onBucket(bucket, loss, extra);
      };
      return source.compute({ ...job, onBucket });
    },
  };
}
