import test from 'ava';
import {
  configRows,
  fdData,
  fdNote,
  lossNote,
  sampleCaption,
  statusLine,
  workerRows,
} from '../assets/run-page-view.js';

const loss = { exists: true, steps: 3, step: [1, 2, 3], loss: [1, 0.5, 0.25], smoothed: [1, 0.74, 0.57] };

test('before any evaluation the FD chart is empty and says which flag turns evaluation on', (t) => {
  t.deepEqual(fdData({ points: [] }), [[], [], []]);
  t.is(fdNote({ points: [] }), 'no evaluation yet: pass --eval-every (and --eval-count) to evaluate during training');
});

test('the FD note gives the newest evaluation with its floor, ratio and sample count', (t) => {
  const points = [
    { step: 100, fd: 80, fd_floor: 2, fd_ratio: 40, count: 1000 },
    { step: 200, fd: 3.5, fd_floor: 2, fd_ratio: 1.75, count: 1000 },
  ];
  t.deepEqual(fdData({ points }), [
    [100, 200],
    [80, 3.5],
    [2, 2],
  ]);
  t.is(fdNote({ points }), 'step 200: Fréchet distance 3.5 (floor 2), 1.75× the floor over 1000 samples');
});

test('the loss note says how many steps are drawn when the series was thinned', (t) => {
  t.is(lossNote(loss), 'step 3: loss 0.25, smoothed 0.57');
  t.is(lossNote({ ...loss, steps: 9000 }), 'step 3: loss 0.25, smoothed 0.57 (3 of 9000 steps drawn)');
  t.is(
    lossNote({ exists: false, steps: 0, step: [], loss: [], smoothed: [] }),
    'waiting for the first step (metrics.jsonl)',
  );
});

test('the configuration is flattened to dotted keys', (t) => {
  t.deepEqual(configRows({ preset: 'mnist-tiny', optimizer: { lr: 0.0002, adam: { beta1: 0.9 } }, tags: ['a', 'b'] }), [
    ['preset', 'mnist-tiny'],
    ['optimizer.lr', '0.0002'],
    ['optimizer.adam.beta1', '0.9'],
    ['tags', 'a, b'],
  ]);
});

test('workers, status and captions', (t) => {
  const live = {
    ...{ command: 'coordinator', backend: 'wasm', step: 3, steps: 500, config: {} },
    workers: [
      { name: 'w1', backend: 'wasm', state: 'training', imagesPerSecond: 18.25, stepMs: 876.4 },
      { name: 'w2', backend: 'webgpu', state: 'joining', imagesPerSecond: null, stepMs: null },
    ],
  };
  const state = { runDirectory: '/runs/x', live };
  t.deepEqual(workerRows(state), [
    ['w1', 'training', '18.3', '876', 'wasm'],
    ['w2', 'joining', '–', '–', 'webgpu'],
  ]);
  t.is(statusLine(state, loss), 'step 3 of 500 · ddpm coordinator · wasm · 2 worker(s) · /runs/x');
  t.is(statusLine({ runDirectory: '/runs/x', live: null }, loss), 'step 3 · /runs/x');
  t.is(sampleCaption('step-000250.png'), 'step 250');
  t.is(sampleCaption('final.png'), 'final.png');
});
