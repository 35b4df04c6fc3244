import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Where ephemeral ports start when /proc does not say (Linux's default ip_local_port_range). */
const DEFAULT_EPHEMERAL_LOW = 32768;
/** The lowest port handed out: above the registered services this project and its tools use (9090, 9400, 9401). */
const LOWEST = 20000;

/** The first port the OS hands out for outgoing connections and port-0 listeners. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST + 1000 ? low : DEFAULT_EPHEMERAL_LOW;
  } catch {
    return DEFAULT_EPHEMERAL_LOW;
  }
}

function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : undefined));
    });
  });
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a process started next to bind. It is drawn at random
 * below the OS's ephemeral range, where neither outgoing connections (their source ports) nor port-0 listeners get
 * ports, so only another caller of this function could take it before the caller binds it. Prefer binding port 0
 * and reading the real port back where the binder can report it (`ddpm local` does).
 */
export async function freePort(): Promise<number> {
  const high = ephemeralLow() - 1;
  for (let attempt = 0; attempt < 64; attempt++) {
    const port = await listenOnce(LOWEST + Math.floor(Math.random() * (high - LOWEST + 1)));
    if (port !== undefined) return port;
  }
  const port = await listenOnce(0);
  if (port === undefined) throw new Error('the OS gave no free TCP port on 127.0.0.1');
  return port;
}
