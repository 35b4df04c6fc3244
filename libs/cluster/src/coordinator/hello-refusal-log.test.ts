import test from 'ava';
import { Writable } from 'node:stream';
import pino from 'pino';
import { selectBackend } from '@ddpm/backend';
import { createCoordinatorMetrics, createRegistry } from '@ddpm/metrics';
import { describe, ScriptedWorker, testEngine } from './engine-harness.ts';

test.before(async () => {
  await selectBackend('cpu');
});

/** An engine whose log lines are kept as objects and whose metrics are real. */
function watchedEngine(maxWorkers: number) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const metrics = createCoordinatorMetrics(createRegistry(), { defaultMetrics: false });
  const { engine } = testEngine({ log: pino(sink), metrics, maxWorkers, minWorkers: 1 });
  const refused = async (): Promise<Record<string, number>> => {
    const counter = await metrics.registry.getSingleMetric('ddpm_handshakes_refused_total')?.get();
    return Object.fromEntries((counter?.values ?? []).map((v) => [String(v.labels.reason), v.value]));
  };
  return { engine, lines, refused };
}

test('a refused Hello is logged with its reason and counted as hello_refused', async (t) => {
  const { engine, lines, refused } = watchedEngine(1);
  new ScriptedWorker(engine, 'first').hello();
  const answer = new ScriptedWorker(engine, 'second').hello().map(describe);
  t.is(answer.length, 1);
  t.regex(answer[0] ?? '', /^error→stranger /, 'the worker is told');
  const line = lines.find((l) => String(l.msg).startsWith('refused a Hello: '));
  t.truthy(line, 'the refusal is in the log');
  t.is(line?.level, 40, 'at warn level');
  t.is(line?.reason, 'hello_refused');
  t.is(line?.worker, 'second');
  t.is(line?.peer, 'unavailable');
  t.regex(String(line?.msg), /--max-workers 1 .*raise it on the coordinator or stop this worker/);
  const counts = await refused();
  t.is(counts.hello_refused, 1);
  t.is(counts.no_curve, 0, 'every reason has a series from the start');
});

test('a bad worker name is refused, logged and counted too', async (t) => {
  const { engine, lines, refused } = watchedEngine(4);
  new ScriptedWorker(engine, 'bad name!').hello();
  t.true(lines.some((l) => l.reason === 'hello_refused' && /worker_name/.test(String(l.msg))));
  t.is((await refused()).hello_refused, 1);
});
