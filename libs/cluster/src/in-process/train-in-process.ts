import type { Dataset } from '@ddpm/data';
import { decodeMessage, encodeMessage, nextSequence, type OutgoingBody, type TensorInput } from '@ddpm/protocol';
import type { Outgoing } from '../coordinator/actions.ts';
import { CoordinatorEngine, type EngineOptions } from '../coordinator/coordinator-engine.ts';
import type { Member } from '../coordinator/membership.ts';
import { RunCoordinator, type CoordinatorSummary, type Delivery } from '../coordinator/run-coordinator.ts';
import { RunLifecycle, type LifecycleOptions } from '../coordinator/run-lifecycle.ts';
import type { GradientSource } from '../worker/gradient-source.ts';
import { WorkerCore, type WorkerLink } from '../worker/worker-core.ts';

/** `ddpm train`: the engine's options (workers and heartbeats are fixed here) and the run directory's. */
export type InProcessOptions = Omit<
  EngineOptions,
  'minWorkers' | 'maxWorkers' | 'heartbeatIntervalMs' | 'heartbeatTimeoutMs' | 'straggler'
> &
  Omit<LifecycleOptions, 'run' | 'log' | 'metrics'> & {
    /** The worker's gradient source (normally ModelGradients over the same dataset). */
    readonly source: GradientSource;
  };

const IDENTITY = Buffer.from('in-process');

/**
 * One process, no sockets: the coordinator's engine and one worker, their messages encoded and decoded exactly as on
 * the wire and passed through two queues. So `ddpm train` computes the very steps of a one-worker cluster, with its
 * checkpoints, resume, metrics and run directory.
 * Promises: {@link stop} (SIGINT/SIGTERM) ends the run at the next message with a checkpoint of the last step boundary.
 * Does not: time anything out (there is no network to fail), or run more than one worker.
 */
export class InProcessRun implements Delivery, WorkerLink {
  readonly engine: CoordinatorEngine;
  private readonly run: RunCoordinator;
  private readonly core: WorkerCore;
  private readonly toCoordinator: Buffer[][] = [];
  private readonly toWorker: Buffer[][] = [];
  private coordinatorSequence = 0;
  private workerSequence = 0;
  private stopSignal: string | undefined;

  constructor(
    private readonly options: InProcessOptions,
    dataset: Dataset,
  ) {
    const engineOptions = { ...options, minWorkers: 1, maxWorkers: 1, straggler: { factor: 2, exclude: false } };
    this.engine = new CoordinatorEngine(
      { ...engineOptions, heartbeatIntervalMs: 3_600_000, heartbeatTimeoutMs: 86_400_000 },
      dataset,
    );
    const resumedAt = options.resume === undefined ? undefined : this.engine.step;
    const lifecycle = new RunLifecycle(
      { ...options, run: options.run, log: options.log, metrics: options.metrics },
      this.engine.state.model,
      resumedAt,
    );
    this.run = new RunCoordinator(this.engine, lifecycle, this);
    const identity = { name: 'in-process', backend: 'in-process', dataset, limits: options.limits, log: options.log };
    this.core = new WorkerCore(identity, options.source, this);
  }

  /** Trains to --steps (or until {@link stop}); the summary names the final weights or the stop's checkpoint. */
  async train(): Promise<CoordinatorSummary> {
    await this.run.perform(this.engine.begin(true));
    if (!this.run.done) await this.core.hello();
    let turnedMs = performance.now();
    while (!this.run.done) {
      // Everything below is a chain of promises that never lets the event loop turn: give timers, signals and the
      // evaluation process's results a turn at least every 50 ms (a step is far longer than that).
      if (performance.now() - turnedMs > 50) {
        await new Promise((resolve) => setImmediate(resolve));
        turnedMs = performance.now();
      }
      if (this.stopSignal !== undefined) {
        await this.run.perform(this.engine.stop(this.stopSignal));
        break;
      }
      const forCoordinator = this.toCoordinator.shift();
      if (forCoordinator !== undefined) {
        await this.run.perform(this.engine.receive(IDENTITY, decodeMessage(forCoordinator, this.options.limits)));
        continue;
      }
      const forWorker = this.toWorker.shift();
      if (forWorker === undefined)
        throw new Error('InProcessRun: no message is in flight but the run is not done; this is a bug.');
      await this.core.handle(decodeMessage(forWorker, this.options.limits));
    }
    return this.run.summary();
  }

  /** Asks the run to stop at the next message boundary. */
  stop(signal: string): void {
    this.stopSignal ??= signal;
  }

  deliver(to: Member | Buffer, message: Outgoing): void {
    if (Buffer.isBuffer(to))
      throw new Error(`InProcessRun: the engine answered a stranger (${JSON.stringify(message.body)}); this is a bug.`);
    this.coordinatorSequence = nextSequence(this.coordinatorSequence);
    const { runId } = this.engine.state.description;
    const envelope = { workerId: to.id, sequence: this.coordinatorSequence, runId, ...message.body };
    this.toWorker.push(encodeMessage(envelope, message.tensors, this.options.limits));
  }

  drain(): Promise<void> {
    return Promise.resolve();
  }

  send(body: OutgoingBody, tensors: readonly TensorInput[] = []): Promise<void> {
    this.workerSequence = nextSequence(this.workerSequence);
    const header = this.core.header('hello' in body);
    this.toCoordinator.push(
      encodeMessage({ ...header, sequence: this.workerSequence, ...body }, tensors, this.options.limits),
    );
    return Promise.resolve();
  }
}
