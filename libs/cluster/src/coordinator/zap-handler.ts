import { Router } from 'zeromq';
import type { Logger } from 'pino';
import { OrderedSender } from '../transport/ordered-sender.ts';
import { z85Encode } from './z85.ts';

/** The endpoint libzmq asks for authentication (ZAP, ZeroMQ RFC 27); one handler per ZeroMQ context. */
const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

/** At most this many handshakes wait for their key at once; more are refused at once (a flood of strangers). */
const MAX_HELD = 256;

/** A ZAP request: the ROUTER envelope (routing id, empty delimiter) and what the answer needs. */
interface ZapRequest {
  readonly envelope: readonly Buffer[];
  readonly version: Buffer | string;
  readonly requestId: Buffer | string;
  readonly address: string;
  readonly mechanism: string;
  readonly publicKey: string;
  /** Until when an unknown key may still become allowed (graceMs after the request). */
  readonly until: number;
}

/**
 * A ZAP handler that admits a CURVE client only when its long-term public key is in `allowed` (Z85 text, as written
 * by `ddpm keygen`). libzmq asks it during every CURVE handshake on a socket of the same context that has
 * curveServer = true; a refused peer's connection is closed before any message of it reaches the application, and
 * libzmq does not reconnect after a refusal. With `graceMs` > 0 a CURVE key not (yet) allowed is held, not refused: its
 * handshake waits until {@link recheck} finds the key allowed, or is refused after `graceMs` (a peer of a new step may
 * connect before this worker has read the StepStart that names it).
 * Promises: every request gets an answer (200 or 400) within `graceMs`; mechanisms other than CURVE are refused at once.
 * Does not: authorise by address, or reload an allowlist file (restart the coordinator after editing it).
 */
export class ZapHandler {
  private readonly socket = new Router({ linger: 0 });
  private readonly sender = new OrderedSender(this.socket);
  private loop: Promise<void> | undefined;
  private held: ZapRequest[] = [];
  private timer: NodeJS.Timeout | undefined;
  private refused = 0;

  constructor(
    private readonly allowed: ReadonlySet<string>,
    private readonly log: Logger,
    /** Ends the log line of a refusal: why the key was not admitted. */
    private readonly refusal = 'is not in --allow-keys',
    private readonly graceMs = 0,
  ) {}

  /** Binds the handler; call before the coordinator binds its ROUTER. */
  async start(): Promise<void> {
    // The ZAP endpoint is one per process: a handler closed just before may not have released it yet.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.socket.bind(ZAP_ENDPOINT);
        break;
      } catch (error) {
        if ((error as { code?: string }).code !== 'EADDRINUSE' || attempt >= 40) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    this.loop = this.serve();
  }

  /** Number of handshakes refused so far. */
  get refusals(): number {
    return this.refused;
  }

  /** `allowed` changed: admits the held requests whose key it now holds, refuses those past their grace. */
  recheck(): Promise<void> {
    const now = Date.now();
    const answers: Promise<void>[] = [];
    const still: ZapRequest[] = [];
    for (const request of this.held) {
      if (this.allowed.has(request.publicKey)) answers.push(this.answer(request, true));
      else if (request.until <= now) answers.push(this.answer(request, false));
      else still.push(request);
    }
    this.held = still;
    this.arm();
    return Promise.all(answers).then(() => undefined);
  }

  /** Refuses the held requests, then closes the handler socket. */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    const held = this.held;
    this.held = [];
    await Promise.all(held.map((request) => this.answer(request, false))).catch(() => undefined);
    // Releases the endpoint now, so a handler started next in this process can bind it (close frees it later).
    await this.socket.unbind(ZAP_ENDPOINT).catch(() => undefined);
    this.socket.close();
    await this.loop;
  }

  private async serve(): Promise<void> {
    for await (const [routing, delimiter, version, requestId, , address, , mechanism, key] of this.socket) {
      const request: ZapRequest = {
        ...{ envelope: [routing, delimiter ?? Buffer.alloc(0)], version: version ?? '1.0', requestId: requestId ?? '' },
        ...{ address: address?.toString() ?? '', mechanism: mechanism?.toString() ?? '' },
        ...{
          publicKey: key !== undefined && key.length === 32 ? z85Encode(key) : '',
          until: Date.now() + this.graceMs,
        },
      };
      const curve = request.mechanism === 'CURVE';
      if (curve && this.allowed.has(request.publicKey)) await this.answer(request, true);
      else if (curve && this.graceMs > 0 && this.held.length < MAX_HELD) {
        this.held.push(request);
        this.arm();
      } else await this.answer(request, false);
    }
  }

  private arm(): void {
    clearTimeout(this.timer);
    const first = this.held[0];
    if (first === undefined) return;
    this.timer = setTimeout(() => void this.recheck().catch(() => undefined), Math.max(0, first.until - Date.now()));
  }

  private answer(request: ZapRequest, ok: boolean): Promise<void> {
    if (!ok) {
      this.refused += 1;
      this.log.warn(
        { address: request.address, mechanism: request.mechanism, publicKey: request.publicKey },
        `refused a peer: its CURVE public key ${this.refusal}`,
      );
    }
    const status = ok ? ['200', 'OK', request.publicKey] : ['400', 'public key not allowed', ''];
    return this.sender.send([...request.envelope, request.version, request.requestId, ...status, ''].map(asBuffer));
  }
}

const asBuffer = (frame: Buffer | string): Buffer => (typeof frame === 'string' ? Buffer.from(frame) : frame);
