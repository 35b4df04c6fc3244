// Checks of scripts/gpu-check.sh without a GPU: bash -n and shellcheck, then the script itself, run from a copy in a
// scratch tree where a stand-in `webgpu` package plays the adapter (a GPU, a software one, none) and a stand-in `npx`
// plays ava and `ddpm bench step` (results, a failure, a hang, no JSON). What is checked: one JSON line on stdout, the
// exit status, that a failing step is recorded and the next one still runs, and which commands the script runs.
// On a machine with a GPU, run the script itself (deploy/README.md).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand, REPO_ROOT } from './test-support.ts';

const SCRIPT = join(REPO_ROOT, 'scripts', 'gpu-check.sh');

/** Stand-in for Dawn's bindings: FAKE_ADAPTER=gpu (default), software or none. */
const FAKE_WEBGPU = `export const globals = {};
export function create() {
  return {
    async requestAdapter() {
      const kind = process.env.FAKE_ADAPTER ?? 'gpu';
      if (kind === 'none') return null;
      const software = kind === 'software';
      return {
        info: software
          ? { vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: 'llvmpipe: Mesa 25.0.7', isFallbackAdapter: true }
          : { vendor: 'nvidia', architecture: 'ampere', device: 'NVIDIA A100', description: '550.54', isFallbackAdapter: false },
        limits: { maxStorageBufferBindingSize: 2 ** 31, maxBufferSize: 2 ** 32 },
      };
    },
  };
}
`;

/**
 * Stand-in for npx: logs each call (with DDPM_PARITY_FULL) to FAKE_LOG; `ava` exits FAKE_PARITY_EXIT; `ddpm bench
 * step` prints a JSON line (webgpu: 10 x batch images/s, wasm: batch images/s) unless "backend preset batch" is
 * FAKE_FAIL (error, exit 1), FAKE_HANG (sleeps) or FAKE_NO_JSON (prints no JSON, exit 0).
 */
const FAKE_NPX = `#!/usr/bin/env bash
echo "DDPM_PARITY_FULL=\${DDPM_PARITY_FULL:-} $*" >>"$FAKE_LOG"
if [[ " $* " == *" ava "* ]]; then echo "  2 tests passed"; exit "\${FAKE_PARITY_EXIT:-0}"; fi
backend='' preset='' batch=''
while (($#)); do
  case "$1" in --backend) backend=$2; shift ;; --preset) preset=$2; shift ;; --batch) batch=$2; shift ;; esac
  shift
done
key="$backend $preset $batch"
if [[ "$key" == "\${FAKE_FAIL:-}" ]]; then echo "Error: GPU out of memory" >&2; exit 1; fi
if [[ "$key" == "\${FAKE_HANG:-}" ]]; then exec sleep 30; fi
if [[ "$key" == "\${FAKE_NO_JSON:-}" ]]; then echo "done"; exit 0; fi
imgs=$batch
if [[ "$backend" == webgpu ]]; then imgs=$((10 * batch)); fi
echo "{\\"bench\\":\\"step\\",\\"preset\\":\\"$preset\\",\\"backend\\":\\"$backend\\",\\"batch\\":$batch,\\"params\\":1,\\"ms_per_step\\":100,\\"imgs_per_s\\":$imgs}"
`;

interface Bench {
  backend: string;
  preset: string;
  batch: number;
  ok?: boolean;
  skipped?: string;
  error?: string;
  result?: { imgs_per_s: number };
}
interface Summary {
  ok: boolean;
  aborted?: string;
  adapter: { vendor: string; software: boolean } | null;
  parity: { ok: boolean; files: string[]; env: string; error?: string } | null;
  benches: Bench[];
  webgpu_vs_wasm: Record<string, number>;
  errors: string[];
}
interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  summary: Summary;
  /** The npx calls, one line each: "DDPM_PARITY_FULL=<value> <args>". */
  calls: string[];
}

/** Runs a copy of scripts/gpu-check.sh in a scratch tree with the stand-ins above. */
function runCheck(args: readonly string[], env: Record<string, string> = {}): Run {
  const root = mkdtempSync(join(tmpdir(), 'ddpm-gpu-check-'));
  try {
    mkdirSync(join(root, 'scripts'));
    copyFileSync(SCRIPT, join(root, 'scripts', 'gpu-check.sh'));
    mkdirSync(join(root, 'node_modules', 'webgpu'), { recursive: true });
    writeFileSync(
      join(root, 'node_modules', 'webgpu', 'package.json'),
      '{"name":"webgpu","type":"module","main":"index.js"}',
    );
    writeFileSync(join(root, 'node_modules', 'webgpu', 'index.js'), FAKE_WEBGPU);
    mkdirSync(join(root, 'libs', 'backend', 'src'), { recursive: true });
    writeFileSync(join(root, 'libs', 'backend', 'src', 'webgpu-parity.test.ts'), '');
    mkdirSync(join(root, 'bin'));
    writeFileSync(join(root, 'bin', 'npx'), FAKE_NPX);
    chmodSync(join(root, 'bin', 'npx'), 0o755);
    const log = join(root, 'npx.log');
    writeFileSync(log, '');
    const result = spawnSync('bash', [join(root, 'scripts', 'gpu-check.sh'), ...args], {
      cwd: tmpdir(),
      encoding: 'utf8',
      env: {
        PATH: `${join(root, 'bin')}:${process.env.PATH ?? ''}`,
        HOME: root,
        FAKE_LOG: log,
        DDPM_GPU_CHECK_LOG_DIR: join(root, 'logs'),
        ...env,
      },
    });
    const lines = result.stdout.split('\n').filter((line) => line !== '');
    if (lines.length !== 1) throw new Error(`expected one line on stdout, got:\n${result.stdout}\n${result.stderr}`);
    const summary = JSON.parse(lines[0]) as Summary;
    const saved = readFileSync(join(root, 'logs', 'summary.json'), 'utf8').trim();
    if (saved !== lines[0]) throw new Error('summary.json differs from the line printed');
    const calls = readFileSync(log, 'utf8')
      .split('\n')
      .filter((line) => line !== '');
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, summary, calls };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const benchCalls = (run: Run): string[] =>
  run.calls.filter((c) => c.includes(' ddpm bench step ')).map((c) => c.replace(/^DDPM_PARITY_FULL=\S* /, ''));

test('bash -n and the script header: bash, set -euo pipefail, parity test paths defined once at the top', (t) => {
  const result = spawnSync('bash', ['-n', SCRIPT], { encoding: 'utf8' });
  t.is(result.status, 0, result.stderr);
  const text = readFileSync(SCRIPT, 'utf8');
  t.regex(text, /^#!\/usr\/bin\/env bash\n/);
  t.regex(text, /^set -euo pipefail$/m);
  t.is(text.match(/^PARITY_TESTS=/gm)?.length, 1);
  t.true(text.indexOf('PARITY_TESTS=') < text.indexOf('\nusage()'), 'PARITY_TESTS is set in the block at the top');
  t.is(text.match(/parity\*\.test\.ts/g)?.length, 1, 'the parity test glob is written once');
});

test('shellcheck scripts/gpu-check.sh', (t) => {
  t.true(hasCommand('shellcheck'), 'shellcheck is not on PATH: apt-get install -y shellcheck (.ci/run does)');
  const result = spawnSync('shellcheck', [SCRIPT], { encoding: 'utf8' });
  t.is(result.status, 0, result.stdout);
});

test('a GPU: adapter, full-size parity tests, webgpu and wasm benches, one JSON line, exit 0', (t) => {
  const run = runCheck([]);
  t.is(run.status, 0, run.stderr);
  const { summary } = run;
  t.true(summary.ok);
  t.is(summary.adapter?.vendor, 'nvidia');
  t.false(summary.adapter?.software);
  t.true(summary.parity?.ok);
  t.deepEqual(summary.parity?.files, ['libs/backend/src/webgpu-parity.test.ts']);
  t.true(run.calls.includes('DDPM_PARITY_FULL=1 --no ava libs/backend/src/webgpu-parity.test.ts'));
  t.deepEqual(benchCalls(run), [
    '--no ddpm bench step --backend webgpu --preset mnist-bench --batch 32',
    '--no ddpm bench step --backend webgpu --preset mnist-bench --batch 128',
    '--no ddpm bench step --backend webgpu --preset cifar-ddpm --batch 8',
    '--no ddpm bench step --backend webgpu --preset cifar-ddpm --batch 32',
    '--no ddpm bench step --backend wasm --preset mnist-bench --batch 32',
    '--no ddpm bench step --backend wasm --preset mnist-bench --batch 128',
  ]);
  t.is(summary.benches.filter((b) => b.ok === true).length, 6);
  t.deepEqual(
    summary.benches.filter((b) => b.skipped !== undefined).map((b) => `${b.backend} ${b.preset} ${b.batch}`),
    ['wasm cifar-ddpm 8', 'wasm cifar-ddpm 32'],
  );
  t.deepEqual(summary.webgpu_vs_wasm, { 'mnist-bench/32': 10, 'mnist-bench/128': 10 });
  t.deepEqual(summary.errors, []);
  t.regex(run.stderr, /WebGPU adapter: nvidia ampere NVIDIA A100 \(550\.54\): hardware adapter/);
});

test('--full adds cifar-ddpm on wasm (one cold step each)', (t) => {
  const run = runCheck(['--full']);
  t.is(run.status, 0, run.stderr);
  t.deepEqual(benchCalls(run).slice(-2), [
    '--no ddpm bench step --backend wasm --preset cifar-ddpm --batch 8 --warmup 0 --repeats 1',
    '--no ddpm bench step --backend wasm --preset cifar-ddpm --batch 32 --warmup 0 --repeats 1',
  ]);
  t.true(run.summary.benches.every((b) => b.ok === true));
  t.is(run.summary.webgpu_vs_wasm['cifar-ddpm/32'], 10);
});

test('a failing, a hung and a silent bench are recorded; the others still run; exit 1', (t) => {
  const run = runCheck([], {
    FAKE_FAIL: 'webgpu cifar-ddpm 32',
    FAKE_HANG: 'webgpu mnist-bench 128',
    FAKE_NO_JSON: 'wasm mnist-bench 32',
    DDPM_GPU_CHECK_BENCH_TIMEOUT: '1',
  });
  t.is(run.status, 1, run.stderr);
  const { summary } = run;
  t.false(summary.ok);
  t.is(benchCalls(run).length, 6, 'every bench ran');
  const byKey = new Map(summary.benches.map((b) => [`${b.backend} ${b.preset} ${b.batch}`, b]));
  t.regex(byKey.get('webgpu cifar-ddpm 32')?.error ?? '', /^exit status 1: Error: GPU out of memory$/);
  t.is(byKey.get('webgpu mnist-bench 128')?.error, 'timed out after 1 s');
  t.is(byKey.get('wasm mnist-bench 32')?.error, 'no JSON line on stdout');
  t.true(byKey.get('webgpu mnist-bench 32')?.ok);
  t.is(summary.errors.length, 3);
  t.deepEqual(summary.webgpu_vs_wasm, {}, 'no ratio from a failed run');
});

test('failing parity tests are recorded, the benches still run; exit 1', (t) => {
  const run = runCheck([], { FAKE_PARITY_EXIT: '1' });
  t.is(run.status, 1);
  t.false(run.summary.parity?.ok);
  t.regex(run.summary.parity?.error ?? '', /^exit status 1/);
  t.is(benchCalls(run).length, 6);
  t.true(run.summary.benches.filter((b) => b.skipped === undefined).every((b) => b.ok === true));
});

test('no adapter: a clear message, nothing else runs, exit 2', (t) => {
  const run = runCheck([], { FAKE_ADAPTER: 'none' });
  t.is(run.status, 2);
  t.regex(run.stderr, /no WebGPU adapter/);
  t.regex(run.stderr, /needs a GPU with a Vulkan driver/);
  t.deepEqual(run.calls, []);
  t.is(run.summary.aborted, 'no adapter');
  t.is(run.summary.adapter, null);
  t.regex(run.summary.errors[0], /^adapter: Dawn found no WebGPU adapter$/);
});

test('a software adapter (lavapipe) stops the check unless --allow-software', (t) => {
  const refused = runCheck([], { FAKE_ADAPTER: 'software' });
  t.is(refused.status, 2);
  t.regex(refused.stderr, /software Vulkan driver, not a GPU/);
  t.deepEqual(refused.calls, []);
  t.true(refused.summary.adapter?.software);
  const allowed = runCheck(['--allow-software'], { FAKE_ADAPTER: 'software' });
  t.is(allowed.status, 0, allowed.stderr);
  t.true(allowed.summary.ok);
  t.is(benchCalls(allowed).length, 6);
});

test('--adapter-only prints the adapter and stops; a bad argument exits 2', (t) => {
  const run = runCheck(['--adapter-only']);
  t.is(run.status, 0);
  t.deepEqual(run.calls, []);
  t.is(run.summary.adapter?.vendor, 'nvidia');
  t.is(run.summary.parity, null);
  const bad = spawnSync('bash', [SCRIPT, '--no-such-flag'], { encoding: 'utf8' });
  t.is(bad.status, 2);
  t.regex(bad.stderr, /unknown argument '--no-such-flag'/);
});
