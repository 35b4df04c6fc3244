import test from 'ava';
import { runPageWorkers, RunPagePublisher, type RunPageSource } from './run-page-publisher.ts';

type Engine = RunPageSource['engine'];
const member = (id: number, name: string, state: 'pending' | 'active') => ({ id, name, state, backend: 'wasm' });
const recent = new Map([
  [1, { ms: 800, flagged: false }],
  [2, { ms: 2400, flagged: true }],
]);
const engine = {
  step: 42,
  members: { all: () => [member(1, 'w1', 'active'), member(2, 'w2', 'active'), member(3, 'w3', 'pending')] },
  stragglers: { recent: (id: number) => recent.get(id) },
} as unknown as Engine;

test('workers show their state and the local batch over their recent step time', (t) => {
  t.deepEqual(runPageWorkers(engine, 16), [
    { name: 'w1', backend: 'wasm', state: 'training', imagesPerSecond: 20, stepMs: 800 },
    { name: 'w2', backend: 'wasm', state: 'straggler', imagesPerSecond: 16 / 2.4, stepMs: 2400 },
    { name: 'w3', backend: 'wasm', state: 'joining', imagesPerSecond: null, stepMs: null },
  ]);
});

test('publishes at once, then after steps at most once per interval', (t) => {
  const published: unknown[] = [];
  let now = 1_000_000;
  const source = { command: 'train', backend: 'wasm', steps: 100, batch: 16, config: { preset: 'mnist-tiny' }, engine };
  const publisher = new RunPagePublisher({ publishRunState: (s) => published.push(s) }, source, 2000, () => now);
  t.teardown(() => publisher.stop());
  t.is(published.length, 1);
  t.like(published[0], { command: 'train', step: 42, steps: 100, config: { preset: 'mnist-tiny' } });
  now += 500;
  publisher.note();
  t.is(published.length, 1, 'too soon after the last one');
  now += 1500;
  publisher.note();
  t.is(published.length, 2);
});

test('without a metrics server (--no-metrics) nothing is published and no timer runs', (t) => {
  const source = { command: 'train', backend: 'wasm', steps: 1, batch: 1, config: {}, engine };
  const publisher = new RunPagePublisher(undefined, source);
  t.notThrows(() => publisher.note());
  publisher.stop();
});
