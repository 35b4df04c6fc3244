import type { HandshakeRefusalReason } from '@ddpm/metrics';

/** The part of a zeromq.js socket event that tells a failed security handshake apart. */
export interface HandshakeEvent {
  readonly type: string;
  /** The socket's own endpoint (libzmq's monitor does not give the peer's address). */
  readonly address?: string;
  readonly error?: { readonly code?: string; readonly status?: number };
}

/** A refused handshake: the metric's reason label and a log line that says what the peer did and the fix. */
export interface HandshakeRefusal {
  readonly reason: HandshakeRefusalReason;
  readonly message: string;
}

/**
 * Classifies a socket monitor event of the coordinator's ROUTER: a failed handshake becomes a refusal, anything else
 * (accept, disconnect, a successful handshake) undefined. Pure, so each case is tested without sockets.
 * - `handshake:error:protocol` ERR_ZMTP_MECHANISM_MISMATCH: a peer without CURVE at a CURVE coordinator;
 * - `handshake:error:protocol` ERR_ZMTP_CRYPTOGRAPHIC: a CURVE peer with another --coordinator-key;
 * - `handshake:error:auth`: the ZAP handler refused the peer's key (not in --allow-keys);
 * - any other handshake failure: bad_handshake.
 */
export function classifyHandshakeEvent(event: HandshakeEvent): HandshakeRefusal | undefined {
  const code = event.error?.code ?? '';
  if (event.type === 'handshake:error:protocol' && code === 'ERR_ZMTP_MECHANISM_MISMATCH') {
    return {
      reason: 'no_curve',
      message:
        'refused a peer: it connected without CURVE, and this coordinator requires it; give the worker --curve-key and --coordinator-key',
    };
  }
  if (event.type === 'handshake:error:protocol' && code === 'ERR_ZMTP_CRYPTOGRAPHIC') {
    return {
      reason: 'wrong_server_key',
      message:
        "refused a peer: its CURVE handshake failed to decrypt, so it expects another coordinator key; pass this coordinator's .pub as the worker's --coordinator-key",
    };
  }
  if (event.type === 'handshake:error:auth') {
    return {
      reason: 'key_not_allowed',
      message: `refused a peer: its CURVE public key is not in --allow-keys (ZAP status ${event.error?.status ?? '?'}); add its .pub to the file and restart the coordinator`,
    };
  }
  if (event.type === 'handshake:error:protocol' || event.type === 'handshake:error:other') {
    return {
      reason: 'bad_handshake',
      message: `refused a peer: its ZeroMQ handshake failed (${code || 'no detail'}); it hung up mid-handshake (as a peer without CURVE can at a CURVE coordinator: give it --curve-key and --coordinator-key) or is not a ddpm worker of this version`,
    };
  }
  return undefined;
}
