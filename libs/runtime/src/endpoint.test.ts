import test from 'ava';
import { Command } from 'commander';
import { endpointFlag, isLoopbackEndpoint, parseEndpoint } from './endpoint.ts';
import { runCommand } from './run-command.ts';

test('tcp and ipc endpoints parse into their parts', (t) => {
  t.deepEqual(parseEndpoint('tcp://10.0.0.1:5555', 'connect'), { transport: 'tcp', host: '10.0.0.1', port: '5555' });
  t.deepEqual(parseEndpoint('tcp://[::1]:5555', 'connect'), { transport: 'tcp', host: '[::1]', port: '5555' });
  t.deepEqual(parseEndpoint('tcp://*:5555', 'bind'), { transport: 'tcp', host: '*', port: '5555' });
  t.deepEqual(parseEndpoint('tcp://127.0.0.1:0', 'bind'), { transport: 'tcp', host: '127.0.0.1', port: '0' });
  t.deepEqual(parseEndpoint('ipc:///tmp/ddpm.sock', 'connect'), { transport: 'ipc', path: '/tmp/ddpm.sock' });
});

test('a malformed endpoint says what is wrong, the expected form and an example', (t) => {
  const cases: [string, 'bind' | 'connect', RegExp][] = [
    ['nonsense', 'connect', /"nonsense" is not a ZeroMQ endpoint: it has no transport/],
    ['udp://1.2.3.4:5', 'connect', /transport "udp:\/\/" is not tcp:\/\/ or ipc:\/\//],
    ['tcp://coordinator', 'connect', /tcp:\/\/ needs HOST:PORT/],
    ['tcp://coordinator:99999', 'connect', /port "99999" is not a number from 1 to 65535/],
    ['tcp://*:5555', 'connect', /cannot connect to "\*"/],
    ['tcp://10.0.0.1:0', 'connect', /port 0 is only for binding/],
    ['ipc://', 'bind', /ipc:\/\/ needs a socket path/],
  ];
  for (const [text, role, problem] of cases) {
    const error = t.throws(() => parseEndpoint(text, role));
    t.regex(error?.message ?? '', problem, text);
    t.regex(error?.message ?? '', /Expected tcp:\/\/HOST:PORT or ipc:\/\/PATH, e\.g\. tcp:\/\//, text);
  }
});

test('a bad --connect exits 2 with the explanation', async (t) => {
  let ran = false;
  const command = new Command('worker').requiredOption('--connect <endpoint>', 'x', endpointFlag('connect'));
  command.action(() => {
    ran = true;
  });
  const write = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array): boolean => {
    stderr += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await runCommand(command, ['node', 'worker', '--connect', 'nonsense']);
  } finally {
    process.stderr.write = write;
  }
  t.is(code, 2);
  t.false(ran);
  t.regex(stderr, /--connect <endpoint>.*"nonsense" is not a ZeroMQ endpoint.*e\.g\. tcp:\/\/10\.0\.0\.1:5555/s);
});

test('loopback endpoints are told from those the network reaches', (t) => {
  for (const local of ['tcp://127.0.0.1:5555', 'tcp://localhost:1', 'tcp://[::1]:5', 'tcp://127.1.2.3:9', 'ipc://x'])
    t.true(isLoopbackEndpoint(parseEndpoint(local, 'bind')), local);
  for (const open of ['tcp://*:5555', 'tcp://0.0.0.0:5555', 'tcp://10.0.0.1:5555', 'tcp://eth0:5555', 'tcp://[::]:5'])
    t.false(isLoopbackEndpoint(parseEndpoint(open, 'bind')), open);
});
