import test from 'ava';
import type { ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import * as zmq from 'zeromq';
import { decodeMessage, encodeMessage } from './frames.ts';
import { DEFAULT_LIMITS } from './limits.ts';
import { UpdateKind } from './schema.ts';
import { expectBody, expectTensor, parameterChecksum } from './validate.ts';

interface Transport {
  readonly name: string;
  /** Binds the router and returns the address a dealer connects to. */
  bind(router: zmq.Router): Promise<string>;
}

const TRANSPORTS: readonly Transport[] = [
  {
    name: 'tcp',
    async bind(router) {
      await router.bind('tcp://127.0.0.1:*'); // the OS picks a free port: unique per test run
      const endpoint = router.lastEndpoint;
      if (endpoint === null) throw new Error('router has no endpoint after bind');
      return endpoint;
    },
  },
  {
    name: 'inproc',
    async bind(router) {
      const endpoint = `inproc://protocol-test-${randomUUID()}`;
      await router.bind(endpoint);
      return endpoint;
    },
  },
];

function sockets(t: ExecutionContext): { router: zmq.Router; dealer: zmq.Dealer } {
  const router = new zmq.Router({ linger: 0, maxMessageSize: DEFAULT_LIMITS.maxMessageBytes });
  const dealer = new zmq.Dealer({ linger: 0, maxMessageSize: DEFAULT_LIMITS.maxMessageBytes });
  t.teardown(() => {
    dealer.close();
    router.close();
  });
  return { router, dealer };
}

const exchanges = test.macro({
  async exec(t, transport: Transport) {
    const { router, dealer } = sockets(t);
    dealer.connect(await transport.bind(router));

    // Worker -> coordinator: a Gradient with a parameter-sized frame (1.1M floats, the smallest preset).
    const gradient = new Float32Array(1_100_000).map((_, i) => Math.sin(i));
    await dealer.send(
      encodeMessage({ sequence: 1, workerId: 3, gradient: { step: 12, samples: 8, loss: 0.25, allFinite: true } }, [
        { name: 'gradient', data: gradient, shape: [gradient.length] },
      ]),
    );

    let identity: Buffer | undefined;
    for await (const [from, ...frames] of router) {
      identity = from;
      const message = expectBody(decodeMessage(frames), 'gradient', 'in the transport test');
      t.is(message.envelope.workerId, 3);
      t.is(message.body.step, 12);
      t.is(message.body.samples, 8);
      const received = expectTensor(message.tensors, 'gradient', [1_100_000], 'float32');
      t.is(parameterChecksum(received), parameterChecksum(gradient));
      break;
    }
    if (identity === undefined) return t.fail('router loop ended without a message');

    // Coordinator -> that worker: an Update routed by the identity frame.
    const parameters = Float32Array.from([1, 2, 3, 4]);
    await router.send([
      identity,
      ...encodeMessage(
        {
          sequence: 1,
          update: { step: 12, kind: UpdateKind.PARAMETERS, parameterChecksum: parameterChecksum(parameters) },
        },
        [{ name: 'parameters', data: parameters, shape: [4] }],
      ),
    ]);
    for await (const frames of dealer) {
      const message = expectBody(decodeMessage(frames), 'update', 'in the transport test');
      const received = expectTensor(message.tensors, 'parameters', [4], 'float32');
      t.deepEqual(Array.from(received), [1, 2, 3, 4]);
      t.is(parameterChecksum(received), message.body.parameterChecksum);
      break;
    }
  },
  title: (_, transport: Transport) =>
    `a ROUTER/DEALER pair over ${transport.name} exchanges encoded Gradient and Update messages`,
});

for (const transport of TRANSPORTS) test(exchanges, transport);
