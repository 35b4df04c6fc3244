import type { DecodedMessage } from '@ddpm/protocol';

/**
 * The step a worker is computing while its receive loop goes on reading the coordinator: an UpdateBucket is taken in
 * (staged, and in the sharded topology forwarded by its owner) during the compute, so the update of the buckets
 * reduced first travels while the later ones are still being computed. Every other message waits for the step to end,
 * in arrival order, as before.
 * Promises: one step at a time; a failed step's error is handed to `onFailure` once, at once (not when the next message
 * arrives), and rethrown by {@link settled}. Does not: overlap anything while the compute holds the thread (a
 * synchronous backend); the bench's simulated compute and webgpu's asynchronous reads let it run.
 */
export class StepInFlight {
  private running: Promise<void> | undefined;
  private error: Error | undefined;

  /** True when `message` may be handled now, beside the step in flight. */
  static passes(message: DecodedMessage): boolean {
    return message.kind === 'updateBucket';
  }

  /** The failure of the last step, if it failed. */
  get failure(): Error | undefined {
    return this.error;
  }

  /** Runs `step` in the background; precondition: {@link settled} resolved since the last start. */
  start(step: Promise<unknown>, onFailure: (error: Error) => Promise<void>): void {
    if (this.running !== undefined)
      throw new Error('StepInFlight.start: a step is still in flight; await settled() first');
    this.running = step.then(
      () => undefined,
      async (error: unknown) => {
        this.error = error as Error;
        await onFailure(this.error).catch(() => undefined);
      },
    );
  }

  /** Waits for the step in flight (if any) and rethrows its failure. */
  async settled(): Promise<void> {
    const running = this.running;
    if (running !== undefined) {
      await running;
      this.running = undefined;
    }
    if (this.error !== undefined) throw this.error;
  }
}
