import { Dealer, Router } from 'zeromq';

/**
 * Measures plain ZeroMQ point-to-point bandwidth over TCP on localhost: a DEALER sends `bytes` in one frame to a
 * ROUTER, which answers with a 1-byte acknowledgement; the best of `repeats` round trips gives bytes / seconds.
 * No protobuf, no checksum, no reduction: the ceiling that the coordinator's own transfers are compared with.
 * Returns gigabits per second.
 */
export async function rawZmqGbps(bytes: number, repeats = 5): Promise<number> {
  const router = new Router({ linger: 0 });
  const dealer = new Dealer({ linger: 0 });
  try {
    await router.bind('tcp://127.0.0.1:*');
    const endpoint = router.lastEndpoint;
    if (endpoint === null) throw new Error('the benchmark socket did not bind');
    dealer.connect(endpoint);
    const payload = Buffer.alloc(bytes, 1);
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i <= repeats; i++) {
      const started = performance.now();
      await dealer.send(payload);
      const [identity] = await router.receive();
      await router.send([identity, Buffer.of(1)]);
      await dealer.receive();
      const ms = performance.now() - started;
      if (i > 0) best = Math.min(best, ms);
    }
    return (bytes * 8) / (best / 1000) / 1e9;
  } finally {
    dealer.close();
    router.close();
  }
}
