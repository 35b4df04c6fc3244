// Checks of the Slurm scripts without a cluster: bash -n and shellcheck on every shell script under deploy/, the
// sbatch directives that place one worker per GPU, that the run directory does not depend on the job id (so a
// re-submitted job continues the same run), and what DDPM_BACKEND=webgpu changes for a worker (run for real with a
// stand-in launcher and nvidia-smi).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEPLOY_ROOT, listFiles, repoPath } from '../test-support.ts';

const SBATCH = join(DEPLOY_ROOT, 'slurm', 'ddpm.sbatch');
const scripts = listFiles(DEPLOY_ROOT, ['.sh', '.sbatch']);

test('bash -n rejects a broken script (the syntax check is live)', (t) => {
  t.not(spawnSync('bash', ['-n'], { input: 'if true; then\n' }).status, 0);
});

for (const script of scripts) {
  test(`bash -n ${repoPath(script)}`, (t) => {
    const result = spawnSync('bash', ['-n', script], { encoding: 'utf8' });
    t.is(result.status, 0, result.stderr);
    t.regex(readFileSync(script, 'utf8'), /^#!\/usr\/bin\/env bash\n/);
    t.regex(readFileSync(script, 'utf8'), /^set -euo pipefail$/m);
    const check = spawnSync('shellcheck', ['--severity=info', script], { encoding: 'utf8' });
    t.is(check.error, undefined, 'shellcheck is not on PATH: apt-get install -y shellcheck');
    t.is(check.status, 0, check.stdout);
  });
}

test('sbatch directives: one task per GPU, requeue, TERM before the time limit', (t) => {
  const text = readFileSync(SBATCH, 'utf8');
  const directives = new Map([...text.matchAll(/^#SBATCH\s+--([\w-]+)(?:=(\S+))?/gm)].map((m) => [m[1], m[2] ?? '']));
  t.is(directives.get('gpus-per-task'), '1');
  t.truthy(directives.get('ntasks-per-node'));
  t.true(directives.has('requeue'));
  t.regex(directives.get('signal') ?? '', /^B:TERM@\d+$/);
  // no #SBATCH line after the first command: sbatch ignores those
  const firstCommand = text.split('\n').findIndex((line) => line !== '' && !line.startsWith('#'));
  t.false(
    text
      .split('\n')
      .slice(firstCommand)
      .some((line) => line.startsWith('#SBATCH')),
  );
});

test('workers run through srun on every task, inside the launcher; the coordinator in a step on the first node', (t) => {
  const text = readFileSync(SBATCH, 'utf8');
  t.regex(
    text,
    /^srun --ntasks="\$WORKERS" --gpus-per-task=1 --cpus-per-task="\$CPUS_PER_TASK" .*\\\n\s+\$DDPM_LAUNCHER bash "\$DDPM_HOME\/deploy\/slurm\/ddpm-worker\.sh" &$/m,
  );
  t.true(existsSync(join(DEPLOY_ROOT, 'slurm', 'ddpm-worker.sh')));
  t.regex(text, /^WORKERS="\$SLURM_NTASKS"$/m);
  t.regex(
    text,
    /^srun --nodes=1 --ntasks=1 --nodelist="\$FIRST_NODE" --overlap --cpus-per-task="\$CPUS_PER_TASK" .*\\\n\s+\$DDPM_LAUNCHER node "\$DDPM_HOME\/apps\/cli\/bin\/ddpm\.js" coordinator --bind "tcp:\/\/\*:\$DDPM_PORT"/m,
  );
  t.regex(text, /^FIRST_NODE="\$\{NODES\[0\]\}"$/m);
  t.regex(
    readFileSync(join(DEPLOY_ROOT, 'slurm', 'ddpm-worker.sh'), 'utf8'),
    /--connect "tcp:\/\/\$DDPM_COORDINATOR_HOST:/,
  );
});

test('the run directory is on DDPM_RUNS_DIR and named by DDPM_RUN, never by the job id', (t) => {
  const text = readFileSync(SBATCH, 'utf8');
  const runDir = /^RUN_DIR="([^"]+)"$/m.exec(text)?.[1] ?? '';
  t.is(runDir, '$DDPM_RUNS_DIR/$DDPM_RUN');
  t.notRegex(/^DDPM_RUN=.*$/m.exec(text)?.[0] ?? '', /SLURM_JOB_ID/);
  t.regex(text, /--out "\$RUN_DIR"/);
});

const WORKER_SCRIPT = join(DEPLOY_ROOT, 'slurm', 'ddpm-worker.sh');

/**
 * Runs ddpm-worker.sh with a stand-in `node` on PATH that prints its environment's Vulkan variable and its arguments
 * instead of starting ddpm, and with a stand-in nvidia-smi listing `gpus` GPUs.
 */
function runWorker(
  env: Record<string, string>,
  gpus: number,
): { status: number | null; stdout: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-slurm-worker-'));
  try {
    const node = join(dir, 'node');
    writeFileSync(
      node,
      '#!/bin/sh\necho "VK_LOADER_DRIVERS_DISABLE=${VK_LOADER_DRIVERS_DISABLE-<unset>}"\necho "node $*"\n',
    );
    const smi = join(dir, 'nvidia-smi');
    const lines = Array.from({ length: gpus }, (_, i) => `echo "GPU ${i}: NVIDIA A100 (UUID: GPU-${i})"`).join('\n');
    writeFileSync(smi, `#!/bin/sh\n${lines}\n`);
    chmodSync(node, 0o755);
    chmodSync(smi, 0o755);
    const result = spawnSync('bash', [WORKER_SCRIPT], {
      encoding: 'utf8',
      env: {
        PATH: `${dir}:${process.env.PATH ?? ''}`,
        HOME: dir,
        DDPM_HOME: '/opt/ddpm',
        DDPM_COORDINATOR_HOST: '10.0.0.1',
        SLURMD_NODENAME: 'gpu017',
        SLURM_LOCALID: '2',
        ...env,
      },
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("DDPM_BACKEND selects the workers' backend; webgpu is documented in the batch script", (t) => {
  const sbatch = readFileSync(SBATCH, 'utf8');
  t.regex(sbatch, /^export DDPM_BACKEND="\$\{DDPM_BACKEND:-tensorflow\}"$/m);
  t.regex(sbatch, /^#\s+DDPM_BACKEND=webgpu sbatch deploy\/slurm\/ddpm\.sbatch\b/m);
  t.regex(sbatch, /ConstrainDevices=yes/);
  t.regex(readFileSync(WORKER_SCRIPT, 'utf8'), /--backend "\$\{DDPM_BACKEND:-tensorflow\}"/);
});

test('ddpm-worker.sh with DDPM_BACKEND=webgpu: --backend webgpu, lavapipe hidden, one GPU per task', (t) => {
  const run = runWorker({ DDPM_BACKEND: 'webgpu' }, 1);
  t.is(run.status, 0, run.stderr);
  t.regex(run.stdout, /^VK_LOADER_DRIVERS_DISABLE=\*lvp\*$/m);
  t.regex(
    run.stdout,
    /^node \/opt\/ddpm\/apps\/cli\/bin\/ddpm\.js worker --name gpu017-2 --connect tcp:\/\/10\.0\.0\.1:5555 /m,
  );
  t.regex(run.stdout, / --backend webgpu /);
  t.regex(run.stdout, / --metrics-port 9403 /);
  t.is(run.stderr, '', 'no warning when the task sees its one GPU');
});

test("ddpm-worker.sh with DDPM_BACKEND=webgpu warns when a task sees several GPUs; keeps a caller's Vulkan filter", (t) => {
  const run = runWorker({ DDPM_BACKEND: 'webgpu', VK_LOADER_DRIVERS_DISABLE: '' }, 4);
  t.is(run.status, 0, run.stderr);
  t.regex(run.stderr, /sees 4 GPUs; Vulkan ignores CUDA_VISIBLE_DEVICES/);
  t.regex(run.stdout, /^VK_LOADER_DRIVERS_DISABLE=$/m, 'an empty VK_LOADER_DRIVERS_DISABLE set by the caller is kept');
});

test('ddpm-worker.sh by default: --backend tensorflow, no Vulkan settings, no GPU warning', (t) => {
  const run = runWorker({}, 4);
  t.is(run.status, 0, run.stderr);
  t.regex(run.stdout, / --backend tensorflow /);
  t.regex(run.stdout, /^VK_LOADER_DRIVERS_DISABLE=<unset>$/m);
  t.is(run.stderr, '');
});
