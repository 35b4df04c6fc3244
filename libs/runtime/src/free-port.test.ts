import test from 'ava';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort } from './free-port.ts';

const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

test('free ports come from below the ephemeral range, where outgoing connections never take them, and can be bound', async (t) => {
  const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
  for (const port of ports) {
    t.true(port >= 20000 && port < ephemeralLow, `port ${port} is outside [20000, ${ephemeralLow})`);
    await new Promise<void>((resolve, reject) => {
      const server = createServer().once('error', reject);
      server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
    });
  }
  t.true(new Set(ports).size > 15, 'the ports are drawn at random');
});
