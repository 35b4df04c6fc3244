// The CLI serves /metrics on 127.0.0.1 unless told otherwise. Every deploy file that starts a ddpm process with a
// metrics port must pass --metrics-host 0.0.0.0 explicitly (Prometheus scrapes from another container, pod or host),
// and say why in a comment, so the exposure is a visible choice rather than a default.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEPLOY_ROOT, listFiles, repoPath } from './test-support.ts';

const files = listFiles(DEPLOY_ROOT, ['.yaml', '.yml', '.sh', '.sbatch', 'Dockerfile']).filter(
  (file) => !file.includes(`${join('deploy', 'prometheus')}`),
);

/** The --metrics-port and --metrics-host 0.0.0.0 settings in `text`: flow lists, block lists and shell words. */
function count(text: string): { ports: number; hosts: number } {
  const code = text
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'))
    .join('\n');
  const ports = (code.match(/--metrics-port\b/g) ?? []).length;
  const hosts = (code.match(/--metrics-host"?,?\s*(?:-\s*)?"?0\.0\.0\.0/g) ?? []).length;
  return { ports, hosts };
}

test('deploy files that start ddpm with a metrics port exist (the checks below are not vacuous)', (t) => {
  t.true(files.filter((file) => count(readFileSync(file, 'utf8')).ports > 0).length >= 7);
});

for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const { ports, hosts } = count(text);
  if (ports === 0) continue;
  test(`${repoPath(file)} passes --metrics-host 0.0.0.0 with every metrics port, and says why`, (t) => {
    t.is(hosts, ports, 'each --metrics-port comes with --metrics-host 0.0.0.0');
    const comments = text.split('\n').filter((line) => line.trim().startsWith('#'));
    t.true(
      comments.some((line) => line.includes('--metrics-host 0.0.0.0')),
      'a comment says why --metrics-host 0.0.0.0 is passed',
    );
  });
}

test('the counter sees a missing host (the check can fail)', (t) => {
  t.deepEqual(count('command: [worker, --metrics-port, "9401"]'), { ports: 1, hosts: 0 });
  t.deepEqual(count('      - --metrics-port\n      - "9400"\n      - --metrics-host\n      - 0.0.0.0'), {
    ports: 1,
    hosts: 1,
  });
});
