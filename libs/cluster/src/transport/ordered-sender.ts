/** The one method of a zeromq.js socket the sender needs. */
export interface SendingSocket {
  send(frames: Buffer[]): Promise<void>;
}

/**
 * Sends messages on one ZeroMQ socket in call order, handing each to ZeroMQ at once when it can.
 *
 * zeromq.js allows one send in flight per socket: a second `send` while the first waits for the socket to become
 * writable throws EBUSY synchronously. A plain promise chain would respect that, but its callbacks only run when the
 * event loop is free, and the gradient buckets are sent from inside a synchronous compute. So a message goes straight
 * to `socket.send` when nothing waits before it (then ZeroMQ's I/O thread transmits it while the compute goes on), and
 * queues behind the one in flight only when ZeroMQ refuses with EBUSY.
 *
 * Promises: messages reach the socket in the order of {@link send} calls; a failed send rejects its own promise and
 * does not block later ones.
 * Does not: encode, number or retry messages.
 */
export class OrderedSender {
  private chain: Promise<void> = Promise.resolve();
  /** Messages waiting in the chain, not yet handed to the socket. */
  private queued = 0;

  constructor(private readonly socket: SendingSocket) {}

  /** Sends `frames` after every message sent before; resolves once ZeroMQ took it. */
  send(frames: Buffer[]): Promise<void> {
    if (this.queued === 0) {
      try {
        const result = this.socket.send(frames);
        this.chain = result.catch(() => undefined);
        return result;
      } catch (error) {
        if ((error as { code?: string }).code !== 'EBUSY') return Promise.reject(error as Error);
      }
    }
    this.queued += 1;
    const result = this.chain.then(() => {
      this.queued -= 1;
      return this.socket.send(frames);
    });
    this.chain = result.catch(() => undefined);
    return result;
  }
}
