import test from 'ava';
import { spawn } from 'node:child_process';
import { childReports } from './parent-report.ts';

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

test('the parent gets each field a child reports, in any order, and the channel does not keep the child alive', async (t) => {
  const c = child(`reportToParent({ endpoint: 'tcp://127.0.0.1:40001' });\nreportToParent({ metricsPort: 40002 });`);
  const reports = childReports(c);
  t.is(await reports.metricsPort, 40002);
  t.is(await reports.endpoint, 'tcp://127.0.0.1:40001');
  t.is(await exited(c), 0);
});

test('a child that exits without reporting resolves its reports as undefined (the parent never hangs)', async (t) => {
  const c = child(`process.exit(3);`);
  const reports = childReports(c);
  t.is(await reports.metricsPort, undefined);
  t.is(await reports.endpoint, undefined);
});

test('without an IPC channel (a coordinator or worker started by hand) reporting does nothing', async (t) => {
  const c = child(`reportToParent({ metricsPort: 1 });\nprocess.stdout.write('ran');`, false);
  let out = '';
  c.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  t.is(await exited(c), 0);
  t.is(out, 'ran');
});
