import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { benchConvGradients, UNET_CONV_CASES } from './bench-conv.ts';
import { selectBackend } from './select-backend.ts';

const timesConvolutions = test.macro({
  async exec(t, backend: 'wasm' | 'webgpu') {
    await selectBackend(backend);
    const before = tf.backend().numDataIds();
    const cases = UNET_CONV_CASES.filter((c) => c.name === '3x3 7x7 64->64' || c.name === '3x3/2 14x14 64->64');
    t.is(cases.length, 2);
    const records = await benchConvGradients({ batch: 2, repeats: 1, cases, compareFilterStrategies: true });
    t.deepEqual(
      records.map((r) => `${r.case} ${r.op}${r.method === undefined ? '' : ` ${r.method}`}`),
      [
        '3x3 7x7 64->64 forward',
        '3x3 7x7 64->64 input-gradient',
        '3x3 7x7 64->64 filter-gradient',
        '3x3 7x7 64->64 filter-gradient conv',
        '3x3 7x7 64->64 filter-gradient matmul',
        '3x3 7x7 64->64 filter-gradient views',
        '3x3/2 14x14 64->64 forward',
        '3x3/2 14x14 64->64 input-gradient',
        '3x3/2 14x14 64->64 filter-gradient',
        '3x3/2 14x14 64->64 filter-gradient conv',
      ].filter((name) => backend === 'wasm' || !/gradient (conv|matmul|views)$/.test(name)),
    );
    // Both cases do 2 * 2 * 7 * 7 * 64 * 9 * 64 FLOPs: gflops * ms must give that back.
    const flops = 2 * 2 * 7 * 7 * 64 * 9 * 64;
    for (const r of records) {
      t.true(r.ms > 0 && Number.isFinite(r.ms), `${r.case} ${r.op}: ${r.ms} ms`);
      t.true(Math.abs(r.gflops * r.ms * 1e6 - flops) < 1e-6 * flops);
    }
    t.is(tf.backend().numDataIds(), before, 'the benchmark disposes everything it creates');
  },
  title: (_provided, backend: string) =>
    `benchConvGradients on ${backend} times forward, input and filter gradients and reports consistent GFLOP/s`,
});
// Serial: each selects its backend globally. Filter-gradient strategies are compared on wasm only.
test.serial(timesConvolutions, 'wasm');
test.serial(timesConvolutions, 'webgpu');
