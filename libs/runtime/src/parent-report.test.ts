import test from 'ava';
import { spawn } from 'node:child_process';
import { reportedMetricsPort } from './parent-report.ts';

const MODULE = JSON.stringify(new URL('./parent-report.ts', import.meta.url).href);

/** A child that reports what `body` says, through the real reportToParent, then exits on its own. */
function child(body: string, ipc = true) {
  const script = `import { reportToParent } from ${MODULE};\n${body}`;
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ipc ? ['ignore', 'pipe', 'inherit', 'ipc'] : ['ignore', 'pipe', 'inherit'],
  });
}

const exited = (c: ReturnType<typeof child>): Promise<number | null> =>
  new Promise((resolve) => c.once('exit', (code) => resolve(code)));

test('the parent gets the port a child reports, and the channel does not keep the child alive', async (t) => {
  const c = child(`process.send('not a report');\nreportToParent({ metricsPort: 40002 });`);
  const port = reportedMetricsPort(c);
  t.is(await port, 40002);
  t.is(await exited(c), 0);
});

test('a child that exits without reporting resolves its reports as undefined (the parent never hangs)', async (t) => {
  const c = child(`process.exit(3);`);
  t.is(await reportedMetricsPort(c), undefined);
});

test('without an IPC channel (a coordinator or worker started by hand) reporting does nothing', async (t) => {
  const c = child(`reportToParent({ metricsPort: 1 });\nprocess.stdout.write('ran');`, false);
  let out = '';
  c.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  t.is(await exited(c), 0);
  t.is(out, 'ran');
});
