import test from 'ava';
import { parseExposition, sampleValue } from './parse-exposition.ts';

test('parses a valid exposition with labels, escapes and special values', (t) => {
  const e = parseExposition(
    [
      '# HELP a_total A.',
      '# TYPE a_total counter',
      'a_total{worker="0",path="x\\"y"} 3',
      '# TYPE h_seconds histogram',
      'h_seconds_bucket{le="+Inf"} 2',
      'h_seconds_sum 1.5e-1',
      'h_seconds_count 2',
      '# TYPE g gauge',
      'g Nan',
      '',
    ].join('\n'),
  );
  t.deepEqual(e.problems, []);
  t.is(sampleValue(e, 'a_total', { path: 'x"y' }), 3);
  t.is(sampleValue(e, 'h_seconds_sum'), 0.15);
  t.true(Number.isNaN(sampleValue(e, 'g')));
});

test('reports malformed lines, bad values, untyped samples and duplicate TYPE lines', (t) => {
  const e = parseExposition(
    ['# TYPE g gauge', 'g{a=b} 1', 'g one', '9bad 1', 'other 1', '# TYPE g gauge', 'g_bucket 1'].join('\n'),
  );
  t.is(e.problems.length, 6, e.problems.join('\n'));
  t.throws(() => sampleValue(e, 'missing'), { message: /found 0/ });
});
