// Runs deploy/slurm/ddpm.sbatch for real, without a cluster: scontrol, srun, getent and node are stand-ins on PATH
// that log what they are asked to do. The stand-in coordinator takes a second after SIGTERM to "write its final
// checkpoint". Checks what the recipe defects of issue 15 broke: the job must not exit before that checkpoint is
// written; both srun steps pass --cpus-per-task; the coordinator runs in its own step with --overlap on the first
// node and the workers dial it by IP address; in container mode the worker script runs inside the launcher (from
// the image), not on the host; and a Prometheus file_sd target list is written, then removed when the job ends.
// prometheus-slurm.yml, which reads those lists, must pass `promtool check config`.
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEPLOY_ROOT, hasCommand, REPO_ROOT } from '../test-support.ts';

const SBATCH = join(DEPLOY_ROOT, 'slurm', 'ddpm.sbatch');

const STAND_INS: Record<string, string> = {
  scontrol: 'printf "gpu001\\ngpu002\\n"\n',
  // node's own name may resolve to loopback first (Debian's /etc/hosts): the script must skip it
  getent: 'echo "127.0.1.1 STREAM $2"; echo "10.20.0.1 STREAM $2"\n',
  // logs its options, then runs the command once (enough to see what each step starts) as local task 0
  srun: 'echo "srun $*" >>"$LOG"\nwhile [[ "$1" == --* ]]; do shift; done\nSLURM_LOCALID=0 SLURMD_NODENAME=gpu001 exec "$@"\n',
  node: [
    'echo "node $*" >>"$LOG"',
    'if [[ "$2" == coordinator ]]; then',
    '  trap \'echo "coordinator: TERM" >>"$LOG"; sleep 1; echo "coordinator: final checkpoint written" >>"$LOG"; exit 0\' TERM',
    'else',
    '  trap \'echo "worker: TERM" >>"$LOG"; exit 0\' TERM',
    'fi',
    'echo "$2 started" >>"$LOG"',
    'while true; do sleep 0.05; done',
    '',
  ].join('\n'),
  // a container launcher: logs, then runs its command with /app mapped to the repository (the image's /app)
  launcher: 'echo "launcher $*" >>"$LOG"\nexec "${@//\\/app\\//$REPO/}"\n',
};

interface Run {
  readonly status: number | null;
  readonly log: string[];
  readonly stderr: string;
  readonly targets: string | undefined;
  readonly targetsAfter: boolean;
}

/** Starts ddpm.sbatch with the stand-ins, sends it SIGTERM once both steps run, and collects what happened. */
async function runSbatch(t: { teardown(fn: () => void): void }, env: Record<string, string>): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-sbatch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const [name, body] of Object.entries(STAND_INS)) {
    writeFileSync(join(bin, name), `#!/usr/bin/env bash\n${body}`);
    chmodSync(join(bin, name), 0o755);
  }
  const log = join(dir, 'log');
  writeFileSync(log, '');
  const runs = join(dir, 'runs');
  const child = spawn('bash', [SBATCH], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      HOME: dir,
      LOG: log,
      REPO: REPO_ROOT,
      DDPM_HOME: REPO_ROOT,
      DDPM_RUNS_DIR: runs,
      DDPM_RUN: 'exp1',
      SLURM_JOB_NAME: 'ddpm',
      SLURM_JOB_NODELIST: 'gpu[001-002]',
      SLURM_NTASKS: '8',
      SLURM_TASKS_PER_NODE: '4(x2)',
      SLURM_CPUS_PER_TASK: '4',
      ...env,
    },
  });
  // the whole process group: a step left behind by a broken script must not outlive the test
  t.teardown(() => {
    try {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
    } catch {
      // the group is gone already
    }
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const readLog = (): string[] => readFileSync(log, 'utf8').split('\n').filter(Boolean);
  const targetsFile = join(runs, 'prometheus-targets', 'exp1.json');
  const deadline = Date.now() + 20_000;
  while (!(readLog().includes('coordinator started') && readLog().includes('worker started'))) {
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`the steps did not start: ${readLog().join(' | ')} ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const targets = existsSync(targetsFile) ? readFileSync(targetsFile, 'utf8') : undefined;
  process.kill(child.pid ?? 0, 'SIGTERM'); // Slurm's --signal=B:TERM reaches the batch shell only
  const status = await exited;
  return { status, log: readLog(), stderr, targets, targetsAfter: existsSync(targetsFile) };
}

test('after SIGTERM the job waits for the coordinator to write its final checkpoint', async (t) => {
  const run = await runSbatch(t, {});
  t.is(run.status, 0, run.stderr);
  t.true(run.log.includes('coordinator: TERM'));
  t.true(run.log.includes('worker: TERM'));
  t.true(run.log.includes('coordinator: final checkpoint written'), 'the job exited before the final checkpoint');
});

test('both srun steps pass --cpus-per-task; the coordinator is an --overlap step on the first node', async (t) => {
  const run = await runSbatch(t, {});
  const steps = run.log.filter((line) => line.startsWith('srun '));
  t.is(steps.length, 2, steps.join('\n'));
  const coordinator = steps.find((s) => / coordinator /.test(s)) ?? '';
  const workers = steps.find((s) => /ddpm-worker\.sh/.test(s)) ?? '';
  t.regex(coordinator, /^srun --nodes=1 --ntasks=1 --nodelist=gpu001 --overlap --cpus-per-task=4 /);
  t.regex(workers, /^srun --ntasks=8 --gpus-per-task=1 --cpus-per-task=4 /);
});

test('workers dial the coordinator by IP address, skipping a loopback answer; DDPM_COORDINATOR_ADDR wins', async (t) => {
  const run = await runSbatch(t, {});
  t.true(run.log.some((line) => / worker .*--connect tcp:\/\/10\.20\.0\.1:5555 /.test(line)));
  const pinned = await runSbatch(t, { DDPM_COORDINATOR_ADDR: '192.168.7.7' });
  t.true(pinned.log.some((line) => / worker .*--connect tcp:\/\/192\.168\.7\.7:5555 /.test(line)));
});

test('container mode: the launcher wraps the coordinator and the worker script, which comes from the image', async (t) => {
  const run = await runSbatch(t, { DDPM_LAUNCHER: 'launcher', DDPM_HOME: '/app' });
  t.is(run.status, 0, run.stderr);
  t.true(run.log.includes('launcher bash /app/deploy/slurm/ddpm-worker.sh'), run.log.join('\n'));
  t.true(run.log.some((line) => /^launcher node \/app\/apps\/cli\/bin\/ddpm\.js coordinator /.test(line)));
  // inside the container the script starts node itself, not the launcher again
  t.false(run.log.some((line) => /^launcher .*\bworker --name\b/.test(line)));
  t.true(run.log.some((line) => /^node \S+\/apps\/cli\/bin\/ddpm\.js worker --name gpu001-0 /.test(line)));
});

test('a Prometheus file_sd target list is written while the job runs and removed at its end', async (t) => {
  const run = await runSbatch(t, {});
  const targets = JSON.parse(run.targets ?? 'null') as { targets: string[]; labels: Record<string, string> }[];
  t.deepEqual(targets, [
    { targets: ['10.20.0.1:9400'], labels: { job: 'ddpm-coordinator', run: 'exp1' } },
    {
      targets: ['gpu001', 'gpu002'].flatMap((node) => [9401, 9402, 9403, 9404].map((port) => `${node}:${port}`)),
      labels: { job: 'ddpm-worker', run: 'exp1' },
    },
  ]);
  t.false(run.targetsAfter, 'the target list outlived the job');
});

test('prometheus-slurm.yml reads the target lists and passes promtool check config with the shipped rules', (t) => {
  if (!hasCommand('promtool')) {
    t.fail('promtool is not on PATH: apt-get install -y prometheus (.ci/run does).');
    return;
  }
  const config = readFileSync(join(DEPLOY_ROOT, 'slurm', 'prometheus-slurm.yml'), 'utf8');
  t.regex(config, /file_sd_configs:\n\s+- files: \[\S+\/prometheus-targets\/\*\.json\]/);
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-promtool-slurm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'rules'));
  copyFileSync(join(DEPLOY_ROOT, 'slurm', 'prometheus-slurm.yml'), join(dir, 'prometheus.yml'));
  const rulesDir = join(DEPLOY_ROOT, 'prometheus', 'rules');
  for (const file of readdirSync(rulesDir)) copyFileSync(join(rulesDir, file), join(dir, 'rules', file));
  const output = execFileSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.regex(output, /SUCCESS: \d+ rule files? found/);
});
