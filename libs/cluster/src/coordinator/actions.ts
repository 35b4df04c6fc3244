import type { OutgoingBody, TensorInput } from '@ddpm/protocol';
import type { Checkpoint, StepRecord } from '@ddpm/training';
import type { Member } from './membership.ts';

/** A message for the transport to number, address (worker id, run id) and encode. */
export interface Outgoing {
  readonly body: OutgoingBody;
  readonly tensors?: readonly TensorInput[];
}

/**
 * What the coordinator's engine asks its shell to do, in order. The engine changes no state while the shell works
 * through one list, so arrays it hands out (parameters, EMA, snapshots) stay valid until the list is done.
 */
export type CoordinatorAction =
  /** Send to a registered worker. */
  | { readonly kind: 'send'; readonly to: Member; readonly message: Outgoing }
  /** Answer a connection that is not a registered worker (the shell may drop it under a flood). */
  | { readonly kind: 'reply'; readonly identity: Buffer; readonly message: Outgoing }
  /** A finished step: one metrics.jsonl line. */
  | { readonly kind: 'record'; readonly record: StepRecord }
  /** Draw a sample grid from `ema` after `step` steps. */
  | { readonly kind: 'grid'; readonly step: number; readonly ema: Float32Array }
  /** Evaluate sample quality on `ema` after `step` steps, off the training path (the shell copies `ema`). */
  | { readonly kind: 'evaluate'; readonly step: number; readonly ema: Float32Array }
  /** Write this checkpoint. */
  | { readonly kind: 'checkpoint'; readonly checkpoint: Checkpoint; readonly why: string }
  /** Wait until every queued message was handed to ZeroMQ. */
  | { readonly kind: 'drain' }
  /** The run reached --steps: write the final weights and stop serving. */
  | { readonly kind: 'finished' }
  /** The run was stopped (signal) before --steps. */
  | { readonly kind: 'stopped'; readonly signal: string };

/** Collects actions in order; the engine's parts share one per input. */
export class Actions {
  readonly list: CoordinatorAction[] = [];

  push(action: CoordinatorAction): void {
    this.list.push(action);
  }

  send(to: Member, message: Outgoing, nowMs: number): void {
    to.lastSentMs = nowMs;
    this.list.push({ kind: 'send', to, message });
  }
}
