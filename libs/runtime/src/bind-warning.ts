import { isLoopbackEndpoint, parseEndpoint } from './endpoint.ts';

/**
 * The warning `ddpm coordinator` logs at start when `bind` is reachable from the network (any tcp address other than
 * loopback, `*` included) and CURVE is off; undefined when there is nothing to warn about. It says what crosses the
 * wire in clear, who can join, and the commands that turn CURVE on.
 */
export function plaintextBindWarning(bind: string, curve: boolean): string | undefined {
  if (curve || isLoopbackEndpoint(parseEndpoint(bind, 'bind'))) return undefined;
  return [
    `WARNING: --bind ${bind} is reachable from the network and CURVE is off.`,
    'Worker names, run ids, presets, the dataset fingerprint, sample indices, weights and gradients cross the wire in clear,',
    'and anyone who reaches the port can join the run as a worker and send it gradients.',
    'Turn CURVE on: `ddpm keygen --out keys --name coordinator` and one `ddpm keygen --out keys --name wN` per worker,',
    "list the workers' .pub keys in a file, then pass `--curve-secret-key keys/coordinator.key --allow-keys FILE` here",
    'and `--curve-key keys/wN.key --coordinator-key keys/coordinator.pub` to each worker;',
    'or bind a loopback address (--bind tcp://127.0.0.1:5555) when all workers run on this machine.',
  ].join(' ');
}
