import type { Router } from 'zeromq';

/**
 * Serialises sends on one ROUTER socket: zeromq.js allows a single send in flight per socket, while the
 * coordinator answers from its receive loop and from timers. Each message is [identity, ...frames].
 * A failed send is reported to `onError` and does not block later sends.
 */
export class SendQueue {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;

  constructor(
    private readonly socket: Router,
    private readonly onError: (error: Error, identity: Buffer) => void,
    private readonly onSent: (bytes: number) => void = () => undefined,
  ) {}

  /** Queues a message; the returned promise settles (never rejects) once it was handed to ZeroMQ or failed. */
  send(identity: Buffer, frames: readonly Buffer[]): Promise<void> {
    this.pending += 1;
    this.tail = this.tail.then(async () => {
      try {
        await this.socket.send([identity, ...frames]);
        this.onSent(frames.reduce((sum, frame) => sum + frame.byteLength, 0));
      } catch (error) {
        this.onError(error as Error, identity);
      } finally {
        this.pending -= 1;
      }
    });
    return this.tail;
  }

  /** Messages queued but not yet handed to ZeroMQ. */
  get depth(): number {
    return this.pending;
  }

  /** Resolves when every queued message was handed to ZeroMQ. */
  drain(): Promise<void> {
    return this.tail;
  }
}
