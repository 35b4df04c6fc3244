import test from 'ava';
import { classifyHandshakeEvent } from './handshake-refusal.ts';

const at = { address: 'tcp://127.0.0.1:5555' };

test('each failed handshake gets its reason and a message with the fix', (t) => {
  const cases = [
    [{ type: 'handshake:error:protocol', error: { code: 'ERR_ZMTP_MECHANISM_MISMATCH' } }, 'no_curve', /--curve-key/],
    [
      { type: 'handshake:error:protocol', error: { code: 'ERR_ZMTP_CRYPTOGRAPHIC' } },
      'wrong_server_key',
      /--coordinator-key/,
    ],
    [
      { type: 'handshake:error:auth', error: { status: 400 } },
      'key_not_allowed',
      /not in --allow-keys \(ZAP status 400\)/,
    ],
    [
      { type: 'handshake:error:protocol', error: { code: 'ERR_ZMTP_INVALID_SEQUENCE' } },
      'bad_handshake',
      /INVALID_SEQUENCE/,
    ],
    [{ type: 'handshake:error:other', error: {} }, 'bad_handshake', /no detail/],
  ] as const;
  for (const [event, reason, message] of cases) {
    const refusal = classifyHandshakeEvent({ ...at, ...event });
    t.is(refusal?.reason, reason, event.type);
    t.regex(refusal?.message ?? '', /^refused a peer: /);
    t.regex(refusal?.message ?? '', message);
  }
});

test('events that are not failed handshakes are not refusals', (t) => {
  for (const type of ['accept', 'handshake', 'disconnect', 'close', 'end'])
    t.is(classifyHandshakeEvent({ ...at, type }), undefined, type);
});
