import test, { type ExecutionContext } from 'ava';
import pino from 'pino';
import { Dealer, Router, curveKeyPair } from 'zeromq';
import { freePort } from '@ddpm/runtime';
import { ZapHandler } from './zap-handler.ts';

const server = curveKeyPair();
const client = curveKeyPair();

/** A CURVE server ROUTER, a client DEALER that sends 'hello', and what the server received; closed at teardown. */
async function handshake(t: ExecutionContext, allowed: Set<string>, graceMs: number) {
  const zap = new ZapHandler(allowed, pino({ level: 'silent' }), 'is not a peer', graceMs);
  await zap.start();
  const router = new Router({
    linger: 0,
    curveServer: true,
    curveSecretKey: server.secretKey,
    curvePublicKey: server.publicKey,
  });
  const endpoint = `tcp://127.0.0.1:${await freePort()}`;
  await router.bind(endpoint);
  const dealer = new Dealer({
    linger: 0,
    curveServerKey: server.publicKey,
    curvePublicKey: client.publicKey,
    curveSecretKey: client.secretKey,
  });
  const received: string[] = [];
  const loop = (async () => {
    for await (const [, body] of router) received.push(body.toString());
  })().catch(() => undefined);
  let refusedEvent = false;
  const events = (async () => {
    for await (const event of dealer.events) if (event.type === 'handshake:error:auth') refusedEvent = true;
  })().catch(() => undefined);
  t.teardown(async () => {
    dealer.close();
    router.close();
    await zap.close();
    await Promise.all([loop, events]);
  });
  dealer.connect(endpoint);
  await dealer.send('hello');
  return { zap, received, refused: () => refusedEvent };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test.serial('a key allowed within the grace: the held handshake is admitted and the message arrives', async (t) => {
  const allowed = new Set<string>();
  const { zap, received } = await handshake(t, allowed, 5000);
  await sleep(400);
  t.deepEqual(received, [], 'nothing gets in while the key is not allowed');
  allowed.add(client.publicKey);
  await zap.recheck();
  await sleep(400);
  t.deepEqual(received, ['hello']);
  t.is(zap.refusals, 0);
});

test.serial('a key still unknown after the grace is refused, and libzmq gives up on it', async (t) => {
  const { zap, received, refused } = await handshake(t, new Set(), 300);
  await sleep(800);
  t.is(zap.refusals, 1);
  t.true(refused(), 'the client saw the authentication failure');
  t.deepEqual(received, []);
});

test.serial('without a grace (the coordinator) an unknown key is refused at once', async (t) => {
  const { zap, refused } = await handshake(t, new Set(), 0);
  await sleep(300);
  t.is(zap.refusals, 1);
  t.true(refused());
});

test.serial('an allowed key is admitted at once', async (t) => {
  const { zap, received } = await handshake(t, new Set([client.publicKey]), 0);
  await sleep(300);
  t.deepEqual(received, ['hello']);
  t.is(zap.refusals, 0);
});
