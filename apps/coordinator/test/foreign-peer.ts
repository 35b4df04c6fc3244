// A worker as someone in another language would write it from proto/ and docs/protocol.md alone: a raw ZeroMQ DEALER,
// the generated protobuf classes (`wire`, nothing of the TypeScript codec around them) and zlib's CRC-32.
import { crc32 } from 'node:zlib';
import { Dealer } from 'zeromq';
import { wire } from '@ddpm/protocol';

type Envelope = InstanceType<typeof wire.Envelope>;

/** One received message: its envelope and its tensor frames by name, CRC-checked. */
export interface Received {
  readonly envelope: Envelope;
  readonly tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly bytes: Uint8Array }>;
}

/** A tensor to send: name, shape, dtype and little-endian bytes. */
export interface OutTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: number;
  readonly bytes: Uint8Array;
}

/** The bytes of a float32 array (little-endian on every host this runs on). */
export const floatBytes = (values: Float32Array): Uint8Array =>
  new Uint8Array(values.buffer, values.byteOffset, values.byteLength);

/** A float32 array copied out of frame bytes (frames need not be aligned). */
export const floatsOf = (bytes: Uint8Array): Float32Array => new Float32Array(Uint8Array.from(bytes).buffer);

/** CRC-32 of the little-endian float32 bytes: the documented parameter checksum. */
export const checksumOf = (params: Float32Array): number => crc32(floatBytes(params)) >>> 0;

/**
 * The DEALER side of the protocol: numbered sends, and a `for await` receive loop that queues what arrives so a test
 * can wait for the message it expects. Heartbeats from the coordinator are kept like any other message.
 */
export class ForeignPeer {
  private readonly socket = new Dealer({ linger: 0 });
  private readonly queue: Received[] = [];
  private readonly loop: Promise<void>;
  private sequence = 0;
  workerId = 0;
  runId = '';

  constructor(endpoint: string) {
    this.socket.connect(endpoint);
    this.loop = this.receive();
  }

  private async receive(): Promise<void> {
    try {
      for await (const [head, ...frames] of this.socket) this.queue.push(decode(head, frames));
    } catch (error) {
      if (!this.socket.closed) throw error;
    }
  }

  /** Sends `body` (an Envelope body field, e.g. { hello: {...} }) with the next sequence number; returns that number. */
  async send(body: Record<string, unknown>, tensors: readonly OutTensor[] = []): Promise<number> {
    this.sequence += 1;
    const headers = tensors.map((t) => ({
      ...{ name: t.name, shape: [...t.shape], dtype: t.dtype, byteLength: t.bytes.byteLength },
      crc32: crc32(t.bytes) >>> 0,
    }));
    const envelope = wire.Envelope.create({
      ...{ protocolVersion: 1, workerId: this.workerId, sequence: this.sequence, runId: this.runId },
      ...{ tensors: headers, ...body },
    });
    await this.socket.send([Buffer.from(wire.Envelope.encode(envelope).finish()), ...tensors.map((t) => t.bytes)]);
    return this.sequence;
  }

  /**
   * The first queued or arriving message for which `match` holds (earlier ones are handed to `skip`, then dropped).
   * `every` runs every 200 ms while waiting (a heartbeat, say). Rejects naming `what` after `timeoutMs`.
   */
  async next(
    what: string,
    match: (m: Received) => boolean,
    options: { timeoutMs?: number; skip?: (m: Received) => void; every?: () => Promise<unknown> } = {},
  ): Promise<Received> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    let lastEvery = Date.now();
    for (;;) {
      while (this.queue.length > 0) {
        const message = this.queue.shift() as Received;
        if (match(message)) return message;
        options.skip?.(message);
      }
      if (Date.now() > deadline) throw new Error(`the foreign peer timed out waiting for ${what}`);
      if (options.every !== undefined && Date.now() - lastEvery >= 200) {
        lastEvery = Date.now();
        await options.every();
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** The oldest queued message, or undefined when none waits. */
  take(): Received | undefined {
    return this.queue.shift();
  }

  async close(): Promise<void> {
    this.socket.close();
    await this.loop;
  }
}

/** Decodes one message by the documented frame rules; throws when a frame disagrees with its header. */
export function decode(head: Buffer, frames: readonly Buffer[]): Received {
  const envelope = wire.Envelope.decode(head);
  if (envelope.protocolVersion !== 1) throw new Error(`protocol_version ${envelope.protocolVersion}, expected 1`);
  if (frames.length !== envelope.tensors.length)
    throw new Error(`${frames.length} frames for ${envelope.tensors.length} tensor headers`);
  const tensors = new Map<string, { shape: number[]; bytes: Uint8Array }>();
  envelope.tensors.forEach((header, i) => {
    const bytes = new Uint8Array(frames[i]);
    if (bytes.byteLength !== header.byteLength || crc32(bytes) >>> 0 !== (header.crc32 ?? 0) >>> 0)
      throw new Error(`tensor '${header.name}': length or CRC-32 differs from its header`);
    tensors.set(header.name ?? '', { shape: header.shape ?? [], bytes });
  });
  return { envelope, tensors };
}
