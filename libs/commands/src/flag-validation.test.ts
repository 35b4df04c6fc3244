import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '@ddpm/runtime';
import { coordinatorCommand } from './coordinator-command.ts';
import { buildProgram } from './program.ts';

/** Runs `ddpm ARGS` in this process; returns the exit code and what went to stderr. */
async function ddpm(args: readonly string[]): Promise<{ code: number; stderr: string }> {
  const write = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array): boolean => {
    stderr += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await runCommand(buildProgram(), ['node', 'ddpm', ...args]), stderr };
  } finally {
    process.stderr.write = write;
  }
}

// A dataset path that does not exist: a command that got as far as loading data would exit 1 with an ENOENT message,
// so exit 2 with the rule's message shows the check ran before any work.
const missing = join(tmpdir(), 'ddpm-flag-validation-no-such-dataset');
const noWork = ['--data', missing, '--no-metrics'];

const cases: readonly { name: string; args: readonly string[]; message: RegExp }[] = [
  {
    name: 'train: --sample-steps above --timesteps',
    args: ['train', '--sample-steps', '5000', ...noWork],
    message: /--sample-steps 5000 exceeds --timesteps 1000: .*pass --sample-steps 1000 or fewer, or raise --timesteps/,
  },
  {
    name: 'coordinator: --sample-steps above --timesteps',
    args: ['coordinator', '--timesteps', '100', '--sample-steps', '101', ...noWork],
    message: /--sample-steps 101 exceeds --timesteps 100/,
  },
  {
    name: 'local: --sample-steps above --timesteps',
    args: ['local', '--timesteps', '10', '--sample-steps', '50', '--data', missing],
    message: /--sample-steps 50 exceeds --timesteps 10/,
  },
  {
    name: 'coordinator: heartbeat timeout not above the interval',
    args: ['coordinator', '--heartbeat-interval', '5', '--heartbeat-timeout', '4', ...noWork],
    message: /--heartbeat-timeout 4 must exceed --heartbeat-interval 5; .*--heartbeat-timeout 15/,
  },
  {
    name: 'local: heartbeat timeout equal to the interval',
    args: ['local', '--heartbeat-interval', '2', '--heartbeat-timeout', '2', '--data', missing],
    message: /--heartbeat-timeout 2 must exceed --heartbeat-interval 2/,
  },
  {
    name: 'coordinator: --min-workers above --max-workers',
    args: ['coordinator', '--min-workers', '3', '--max-workers', '2', ...noWork],
    message: /--min-workers 3 exceeds --max-workers 2: .*raise --max-workers to at least 3/,
  },
  {
    name: 'coordinator: --curve-secret-key without --allow-keys',
    args: ['coordinator', '--curve-secret-key', 'c.key', ...noWork],
    message: /--curve-secret-key needs --allow-keys: .*pass both to enable CURVE, or neither/,
  },
  {
    name: 'coordinator: --allow-keys without --curve-secret-key',
    args: ['coordinator', '--allow-keys', 'allowed', ...noWork],
    message: /--allow-keys needs --curve-secret-key/,
  },
  {
    name: 'worker: --curve-key without --coordinator-key',
    args: ['worker', '--connect', 'tcp://127.0.0.1:1', '--curve-key', 'w.key', ...noWork],
    message: /--curve-key needs --coordinator-key: .*pass both to use CURVE/,
  },
  {
    name: 'worker: --coordinator-key without --curve-key',
    args: ['worker', '--connect', 'tcp://127.0.0.1:1', '--coordinator-key', 'c.pub', ...noWork],
    message: /--coordinator-key needs --curve-key/,
  },
  {
    name: 'coordinator: --outer-lr without --sync-every',
    args: ['coordinator', '--outer-lr', '0.5', ...noWork],
    message:
      /--outer-lr set the outer step .* --sync-every 1 does not use; pass --sync-every 2 or more .*, or drop --outer-lr/,
  },
  {
    name: 'local: --sync-every above 1 with --topology sharded',
    args: ['local', '--sync-every', '10', '--topology', 'sharded', '--data', missing],
    message: /--sync-every 10 runs with --topology star only .*; pass --topology star, or --sync-every 1/,
  },
  {
    name: 'local: --outer-momentum with --sync-every 1',
    args: ['local', '--sync-every', '1', '--outer-momentum', '0.5', '--data', missing],
    message: /--outer-momentum set the outer step .* pass --sync-every 2 or more/,
  },
  {
    name: 'bench allreduce: --warmup leaves no timed step',
    args: ['bench', 'allreduce', '--steps', '5', '--warmup', '5'],
    message: /--warmup 5 leaves no timed step of --steps 5; pass --warmup 4 or fewer/,
  },
];

for (const { name, args, message } of cases) {
  test.serial(`${name} exits 2 before any work, naming the flags and the fix`, async (t) => {
    const { code, stderr } = await ddpm(args);
    t.is(code, 2, stderr);
    t.regex(stderr, /^ddpm: /);
    t.regex(stderr, message);
    t.notRegex(stderr, /ENOENT|no such file/i, 'the command did not start loading data');
  });
}

test.serial('a malformed --bind or --connect exits 2 with the expected form and an example', async (t) => {
  for (const args of [
    ['coordinator', '--bind', 'nonsense', ...noWork],
    ['worker', '--connect', 'nonsense', ...noWork],
  ]) {
    const { code, stderr } = await ddpm(args);
    t.is(code, 2, stderr);
    t.regex(
      stderr,
      /"nonsense" is not a ZeroMQ endpoint: .*Expected tcp:\/\/HOST:PORT or ipc:\/\/PATH, e\.g\. tcp:\/\//,
    );
    t.notRegex(stderr, /Invalid argument/);
  }
});

test.serial('sample: --steps above the weights file T exits 2 (checked once the file names T)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-flag-sample-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'run');
  const train = ['train', '--preset', 'mnist-tiny', '--steps', '1', '--batch', '2', '--timesteps', '20'];
  const tiny = ['--sample-every', '0', '--sample-count', '1', '--sample-steps', '1', '--backend', 'cpu'];
  const trained = await ddpm([...train, ...tiny, '--dataset-limit', '4', '--no-metrics', '--out', out]);
  t.is(trained.code, 0, trained.stderr);
  const { code, stderr } = await ddpm(['sample', '--weights', join(out, 'weights.ddpm'), '--steps', '21']);
  t.is(code, 2, stderr);
  t.regex(stderr, /--steps 21 exceeds the model's T = 20; pass --steps 20 or fewer/);
});

test.serial(
  'the rules also run when a subcommand is the whole program (the coordinator and worker apps)',
  async (t) => {
    const write = process.stderr.write.bind(process.stderr);
    let stderr = '';
    process.stderr.write = ((chunk: string | Uint8Array): boolean => {
      stderr += chunk.toString();
      return true;
    }) as typeof process.stderr.write;
    let code: number;
    try {
      code = await runCommand(coordinatorCommand(), [
        'node',
        'coordinator',
        '--min-workers',
        '3',
        '--max-workers',
        '2',
      ]);
    } finally {
      process.stderr.write = write;
    }
    t.is(code, 2);
    t.regex(stderr, /--min-workers 3 exceeds --max-workers 2/);
  },
);

test.serial(
  '--sync-every, --outer-lr and --outer-momentum out of range exit 2 naming the flag and what it accepts',
  async (t) => {
    for (const [flag, value, accepted] of [
      ['--sync-every', '0', /an integer from 1 to 100000/],
      ['--sync-every', '2.5', /an integer from 1 to 100000/],
      ['--outer-lr', '0', /a number from 0.000001 to 10/],
      ['--outer-momentum', '1', /a number from 0 to 0.999/],
    ] as const) {
      const { code, stderr } = await ddpm(['local', '--sync-every', '4', flag, value, '--data', missing]);
      t.is(code, 2, stderr);
      t.regex(stderr, new RegExp(`option '${flag} <[^>]+>' argument '${value}' is invalid`));
      t.regex(stderr, accepted);
    }
  },
);
