import test from 'ava';
import { readFileSync } from 'node:fs';
import { drawTrainingInputs, sampleKey } from './sample-draws.ts';

/** Known answers computed by libs/diffusion-core/fixtures/rng-vectors.py, independently of the TypeScript. */
const { sample_keys: keys } = JSON.parse(
  readFileSync(new URL('../../diffusion-core/fixtures/rng-vectors.json', import.meta.url), 'utf8'),
) as { sample_keys: { seed: number; step: number; index: number; key: number; t1000: number }[] };

test('sampleKey and the timestep it draws match the known answers a foreign worker must reproduce', (t) => {
  t.true(keys.length >= 5);
  for (const k of keys) {
    t.is(sampleKey(k.seed, k.step, k.index), k.key, `sampleKey(${k.seed}, ${k.step}, ${k.index})`);
    t.is(
      drawTrainingInputs(k.seed, k.step, [k.index], 1, 1000).t[0],
      k.t1000,
      `t of (${k.seed}, ${k.step}, ${k.index})`,
    );
  }
});
