import type { CoordinatorAction, Outgoing } from './actions.ts';
import type { CoordinatorEngine } from './coordinator-engine.ts';
import type { Member } from './membership.ts';
import type { RunLifecycle } from './run-lifecycle.ts';

/** How the actions reach the workers: the ZeroMQ shell, or an in-process worker. */
export interface Delivery {
  /** Hands one message on, in call order. */
  deliver(to: Member | Buffer, message: Outgoing): void;
  /** Resolves once everything delivered so far has left. */
  drain(): Promise<void>;
}

/** What {@link RunCoordinator.summary} reports. */
export interface CoordinatorSummary {
  readonly steps: number;
  readonly wallSeconds: number;
  readonly finalLoss: number;
  readonly skippedSteps: number;
  /** Final weights, when the run reached --steps. */
  readonly weightsPath?: string;
  /** Set when the run was stopped by a signal before --steps: the signal and the checkpoint written. */
  readonly stopped?: { readonly signal: string; readonly checkpoint?: string };
}

/**
 * Carries out an engine's actions in order: messages through a {@link Delivery}, files through a {@link RunLifecycle}.
 * The one place where decisions become effects, whatever the transport.
 * Promises: an action list is carried out whole and in order before the next input reaches the engine (callers
 * serialise); after a slow effect (grid, checkpoint) the engine forgives the silence it caused.
 */
export class RunCoordinator {
  private stoppedBy: { signal: string; checkpoint?: string } | undefined;
  private lastCheckpoint: string | undefined;
  private readonly startedMs = performance.now();

  constructor(
    readonly engine: CoordinatorEngine,
    readonly lifecycle: RunLifecycle,
    private readonly delivery: Delivery,
  ) {}

  async perform(actions: readonly CoordinatorAction[]): Promise<void> {
    for (const action of actions) {
      switch (action.kind) {
        case 'send':
          this.delivery.deliver(action.to, action.message);
          break;
        case 'reply':
          this.delivery.deliver(action.identity, action.message);
          break;
        case 'record':
          this.lifecycle.record(action.record);
          break;
        case 'grid':
          await this.lifecycle.grid(action.step, action.ema);
          this.engine.forgive();
          break;
        case 'evaluate':
          this.lifecycle.evaluate(action.step, action.ema);
          break;
        case 'checkpoint':
          this.lastCheckpoint = this.lifecycle.checkpoint(action.checkpoint, action.why);
          this.engine.forgive();
          break;
        case 'drain':
          await this.delivery.drain();
          break;
        case 'stopped':
          this.stoppedBy = { signal: action.signal, checkpoint: this.lastCheckpoint };
          break;
        case 'finished':
          break;
      }
    }
  }

  /** True once the run finished or stopped. */
  get done(): boolean {
    return this.engine.done !== undefined;
  }

  /** Ends the run: a finished run writes its final grid, weights and summary.json. */
  async summary(): Promise<CoordinatorSummary> {
    const { engine } = this;
    const wallSeconds = (performance.now() - this.startedMs) / 1000;
    const summary = { steps: engine.step, wallSeconds, finalLoss: engine.finalLoss, skippedSteps: engine.skippedSteps };
    if (this.stoppedBy !== undefined) return { ...summary, stopped: this.stoppedBy };
    const { params, ema } = engine.weights();
    const weightsPath = await this.lifecycle.finish(engine.step, params, ema, {
      ...summary,
      preset: engine.state.description.run.preset,
    });
    return { ...summary, weightsPath };
  }
}
