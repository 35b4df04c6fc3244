import test from 'ava';
import { spawnSync } from 'node:child_process';

// Three lines logged back to back, then SIGKILL before the event loop turns: an asynchronous destination would still
// hold the later lines in its buffer (waiting for the first write's callback) and lose them.
const SCRIPT = `
import { createLogger } from ${JSON.stringify(new URL('./logger.ts', import.meta.url).href)};
const log = createLogger('probe');
for (const n of [1, 2, 3]) log.info({ n }, 'line');
process.kill(process.pid, 'SIGKILL');
`;

test('every line logged before a kill -9 reaches stderr', (t) => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], {
    encoding: 'utf8',
  });
  t.is(result.signal, 'SIGKILL', result.stderr);
  const lines = result.stderr
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { n: number; component: string });
  t.deepEqual(
    lines.map((l) => [l.component, l.n]),
    [
      ['probe', 1],
      ['probe', 2],
      ['probe', 3],
    ],
  );
});
