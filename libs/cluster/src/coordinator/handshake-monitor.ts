import type { Observer } from 'zeromq';
import type { Logger } from 'pino';
import type { CoordinatorMetrics } from '@ddpm/metrics';
import { classifyHandshakeEvent, type HandshakeEvent } from './handshake-refusal.ts';

/**
 * Watches the ROUTER's monitor events until the socket closes: every failed security handshake is logged with its
 * reason and counted in `ddpm_handshakes_refused_total{reason}`. libzmq's monitor names the coordinator's own endpoint,
 * not the peer's, so the log line says `peer: "unavailable"`; for a key not in --allow-keys the ZAP handler's line
 * ("refused a peer: its CURVE public key is not in --allow-keys") carries the peer's IP address and key.
 */
export async function watchHandshakes(events: Observer, log: Logger, metrics?: CoordinatorMetrics): Promise<void> {
  for await (const event of events) {
    const seen = event as HandshakeEvent;
    const refusal = classifyHandshakeEvent(seen);
    if (refusal === undefined) continue;
    metrics?.handshakeRefused(refusal.reason);
    log.warn({ reason: refusal.reason, endpoint: seen.address, peer: 'unavailable' }, refusal.message);
  }
}
