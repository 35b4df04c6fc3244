import type { CoordinatorEngine } from '@ddpm/cluster';
import type { MetricsServer } from '@ddpm/metrics';
import type { RunPageState, RunPageWorker } from '@ddpm/run-page';

/** What the run page shows of a run besides its files: where the workers and the step come from, and the config. */
export interface RunPageSource {
  readonly command: string;
  readonly backend: string;
  readonly steps: number;
  /** Images per worker per step (the local batch), for each worker's images/s. */
  readonly batch: number;
  readonly config: Readonly<Record<string, unknown>>;
  readonly engine: Pick<CoordinatorEngine, 'members' | 'stragglers' | 'step'>;
}

/**
 * The workers as the run page shows them: joining until welcomed at a step boundary, then training (or straggler
 * while flagged), with the local batch over the median of its recent step times (StepStart sent to its last gradient
 * bucket received, as the coordinator measures it). Pure.
 */
export function runPageWorkers(engine: RunPageSource['engine'], batch: number): RunPageWorker[] {
  return engine.members.all().map((member) => {
    const recent = engine.stragglers.recent(member.id);
    const timed = recent !== undefined && recent.ms > 0;
    return {
      name: member.name,
      backend: member.backend,
      state: member.state === 'pending' ? 'joining' : recent?.flagged ? 'straggler' : 'training',
      imagesPerSecond: timed ? (batch * 1000) / recent.ms : null,
      stepMs: timed ? recent.ms : null,
    };
  });
}

/**
 * Publishes the run page's live state (GET /api/state) to the metrics server: at once, every `intervalMs` while the
 * event loop is free, and after steps ({@link note}, at most once per `intervalMs`: a training loop on wasm may keep
 * the event loop busy between steps). Does nothing without a server (--no-metrics).
 */
export class RunPagePublisher {
  readonly #startedAt: string;
  #timer: NodeJS.Timeout | undefined;
  #lastMs = 0;

  constructor(
    private readonly server: Pick<MetricsServer, 'publishRunState'> | undefined,
    private readonly source: RunPageSource,
    private readonly intervalMs = 2000,
    private readonly now: () => number = Date.now,
  ) {
    this.#startedAt = new Date(now()).toISOString();
    if (server === undefined) return;
    this.publish();
    this.#timer = setInterval(() => this.publish(), intervalMs).unref();
  }

  /** A step finished: publishes unless the last publication is more recent than the interval. */
  note(): void {
    if (this.now() - this.#lastMs >= this.intervalMs) this.publish();
  }

  publish(): void {
    if (this.server === undefined) return;
    this.#lastMs = this.now();
    const { command, backend, steps, batch, config, engine } = this.source;
    const state: RunPageState = {
      ...{ command, backend, steps, config, step: engine.step, startedAt: this.#startedAt },
      updatedAt: new Date(this.#lastMs).toISOString(),
      workers: runPageWorkers(engine, batch),
    };
    this.server.publishRunState(state);
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
