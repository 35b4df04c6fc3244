import { Reply } from 'zeromq';
import type { Logger } from 'pino';
import { z85Encode } from './z85.ts';

/** The endpoint libzmq asks for authentication (ZAP, ZeroMQ RFC 27); one handler per ZeroMQ context. */
const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

/**
 * A ZAP handler that admits a CURVE client only when its long-term public key is in `allowed` (Z85 text, as written
 * by `ddpm keygen`). libzmq asks it during every CURVE handshake on a socket of the same context that has
 * curveServer = true; a refused peer's connection is closed before any message of it reaches the application.
 * Promises: every request gets an answer (200 or 400), so no handshake hangs; mechanisms other than CURVE are refused.
 * Does not: authorise by address, or reload the allowlist (restart the coordinator after editing the file).
 */
export class ZapHandler {
  private readonly socket = new Reply({ linger: 0 });
  private loop: Promise<void> | undefined;
  private refused = 0;

  constructor(
    private readonly allowed: ReadonlySet<string>,
    private readonly log: Logger,
    /** Ends the log line of a refusal: why the key was not admitted. */
    private readonly refusal = 'is not in --allow-keys',
  ) {}

  /** Binds the handler; call before the coordinator binds its ROUTER. */
  async start(): Promise<void> {
    await this.socket.bind(ZAP_ENDPOINT);
    this.loop = this.serve();
  }

  /** Number of handshakes refused so far. */
  get refusals(): number {
    return this.refused;
  }

  private async serve(): Promise<void> {
    for await (const [version, requestId, , address, , mechanism, key] of this.socket) {
      const publicKey = key !== undefined && key.length === 32 ? z85Encode(key) : '';
      const ok = mechanism?.toString() === 'CURVE' && this.allowed.has(publicKey);
      if (!ok) {
        this.refused += 1;
        this.log.warn(
          { address: address?.toString(), mechanism: mechanism?.toString(), publicKey },
          `refused a peer: its CURVE public key ${this.refusal}`,
        );
      }
      await this.socket.send([
        version ?? '1.0',
        requestId ?? '',
        ok ? '200' : '400',
        ok ? 'OK' : 'public key not allowed',
        ok ? publicKey : '',
        '',
      ]);
    }
  }

  /** Closes the handler socket and waits for its loop to end. */
  async close(): Promise<void> {
    this.socket.close();
    await this.loop;
  }
}
