import { InvalidArgumentError } from 'commander';

/** A ZeroMQ endpoint as `--bind` and `--connect` accept it. */
export type Endpoint =
  | { readonly transport: 'tcp'; readonly host: string; readonly port: string }
  | { readonly transport: 'ipc'; readonly path: string };

/** Which side of a connection the endpoint is for: a bind may use `*` for the host and `*` or 0 for the port. */
export type EndpointRole = 'bind' | 'connect';

const EXAMPLES: Record<EndpointRole, string> = {
  bind: 'tcp://*:5555 (all interfaces), tcp://127.0.0.1:5555 (this machine only) or ipc:///tmp/ddpm.sock',
  connect: 'tcp://10.0.0.1:5555, tcp://coordinator:5555, tcp://[::1]:5555 or ipc:///tmp/ddpm.sock',
};

/** Why `text` is not an endpoint for `role`, or undefined when it is one. */
function problemWith(text: string, role: EndpointRole): string | undefined {
  const scheme = /^([a-z]+):\/\/(.*)$/.exec(text);
  if (scheme === null) return 'it has no transport (tcp:// or ipc://)';
  const [, transport, rest] = scheme as unknown as [string, string, string];
  if (transport === 'ipc') return rest === '' ? 'ipc:// needs a socket path' : undefined;
  if (transport !== 'tcp') return `transport "${transport}://" is not tcp:// or ipc://`;
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]/]+):([^:/]*)$/.exec(rest);
  if (match === null) return 'tcp:// needs HOST:PORT (an IPv6 address in brackets)';
  const [, host, port] = match as unknown as [string, string, string];
  if (host === '*' && role === 'connect') return 'a worker cannot connect to "*"; name the coordinator\'s host';
  if (port === '*' || port === '0') {
    return role === 'bind' ? undefined : `port ${port} is only for binding; give the coordinator's port`;
  }
  const n = Number(port);
  if (!/^\d+$/.test(port) || n < 1 || n > 65535) return `port "${port}" is not a number from 1 to 65535`;
  return undefined;
}

/**
 * Parses a ZeroMQ endpoint: `tcp://HOST:PORT` (HOST a name, an IPv4 address, `[IPv6]`, or `*` to bind all interfaces)
 * or `ipc://PATH`. Throws an error that says what is wrong, the expected form and an example.
 */
export function parseEndpoint(text: string, role: EndpointRole): Endpoint {
  const problem = problemWith(text.trim(), role);
  if (problem !== undefined) {
    throw new InvalidArgumentError(
      `"${text}" is not a ZeroMQ endpoint: ${problem}. Expected tcp://HOST:PORT or ipc://PATH, e.g. ${EXAMPLES[role]}.`,
    );
  }
  const trimmed = text.trim();
  if (trimmed.startsWith('ipc://')) return { transport: 'ipc', path: trimmed.slice('ipc://'.length) };
  const rest = trimmed.slice('tcp://'.length);
  const colon = rest.lastIndexOf(':');
  return { transport: 'tcp', host: rest.slice(0, colon), port: rest.slice(colon + 1) };
}

/** Commander argument parser for `--bind` or `--connect`: checks the form and keeps the text as given. */
export function endpointFlag(role: EndpointRole): (value: string) => string {
  return (value: string): string => {
    parseEndpoint(value, role);
    return value.trim();
  };
}

/**
 * True when only this machine can reach `endpoint`: ipc, or tcp on a loopback address (127.0.0.0/8, ::1, localhost).
 * A host name other than localhost, an interface name and `*` count as reachable from the network.
 */
export function isLoopbackEndpoint(endpoint: Endpoint): boolean {
  if (endpoint.transport === 'ipc') return true;
  const host = endpoint.host.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
