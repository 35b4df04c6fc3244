// Checks of the Slurm scripts without a cluster: bash -n on every shell script under deploy/, the sbatch
// directives that place one worker per GPU, and that the run directory does not depend on the job id (so a
// re-submitted job continues the same run).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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

test('workers run through srun on every task; the coordinator on the batch (first) node', (t) => {
  const text = readFileSync(SBATCH, 'utf8');
  t.regex(
    text,
    /^srun --ntasks="\$WORKERS" --gpus-per-task=1 .*\\\n\s+bash "\$DDPM_HOME\/deploy\/slurm\/ddpm-worker\.sh" &$/m,
  );
  t.true(existsSync(join(DEPLOY_ROOT, 'slurm', 'ddpm-worker.sh')));
  t.regex(text, /^WORKERS="\$SLURM_NTASKS"$/m);
  t.regex(text, /^ddpm coordinator --bind "tcp:\/\/\*:\$DDPM_PORT" --min-workers "\$WORKERS"/m);
  t.regex(text, /head -n 1\)"$/m);
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
