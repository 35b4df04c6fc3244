import test from 'ava';
import {
  DEFAULT_METRIC_NAMES,
  definitionsFor,
  METRIC_DEFINITIONS,
  selectableNames,
  type MetricDefinition,
} from './metric-definitions.ts';

const NAME = /^ddpm_[a-z][a-z0-9_]*[a-z0-9]$/;
/** Unit words Prometheus discourages in favour of base units. */
const NON_BASE_UNITS = /_(milliseconds|microseconds|ms|us|ns|minutes|hours|kilobytes|megabytes|kb|mb|percent)(_|$)/;
const BOUNDED_LABELS = new Set(['worker', 'phase', 'reason', 'role', 'backend', 'run_id', 'preset']);

test('every metric name has the ddpm_ prefix, is snake_case and is unique', (t) => {
  const names = METRIC_DEFINITIONS.map((d) => d.name);
  for (const name of names) t.regex(name, NAME);
  t.is(new Set(names).size, names.length);
});

const suffixRules: Array<[string, (d: MetricDefinition) => boolean]> = [
  ['counters end in _total and only counters do', (d) => (d.type === 'counter') === d.name.endsWith('_total')],
  ['histograms are durations in _seconds', (d) => d.type !== 'histogram' || d.name.endsWith('_seconds')],
  [
    'names mentioning time, duration or timestamp end in _seconds',
    (d) => !/duration|timestamp|_time$/.test(d.name) || d.name.endsWith('_seconds'),
  ],
  [
    'names mentioning bytes end in _bytes or _bytes_total',
    (d) => !d.name.includes('bytes') || /_bytes(_total)?$/.test(d.name),
  ],
  ['no non-base units', (d) => !NON_BASE_UNITS.test(d.name)],
  [
    'no _sum, _count, _bucket or _info suffix unless an info gauge',
    (d) => !/_(sum|count|bucket)$/.test(d.name) && (!d.name.endsWith('_info') || d.type === 'gauge'),
  ],
  ['help text is a sentence', (d) => /^[A-Z0-9].{10,}\.$/.test(d.help)],
  [
    'labels are bounded (worker, phase, reason, role, backend, run_id, preset), never step or path',
    (d) => d.labelNames.every((l) => BOUNDED_LABELS.has(l)),
  ],
  [
    'histogram buckets are strictly increasing and positive',
    (d) =>
      d.type !== 'histogram' ||
      (d.buckets !== undefined &&
        d.buckets.length > 3 &&
        d.buckets.every((b, i, a) => b > 0 && (i === 0 || b > a[i - 1]))),
  ],
];
for (const [rule, holds] of suffixRules) {
  test(`naming rule: ${rule}`, (t) => {
    const offenders = METRIC_DEFINITIONS.filter((d) => !holds(d)).map((d) => d.name);
    t.deepEqual(offenders, []);
  });
}

test('the rules themselves reject bad names (so the checks above can fail)', (t) => {
  const bad: MetricDefinition[] = [
    { name: 'ddpm_steps', help: 'Steps counted here.', type: 'counter', labelNames: [], role: 'coordinator' },
    { name: 'ddpm_step_time_ms', help: 'Step time in ms.', type: 'gauge', labelNames: [], role: 'coordinator' },
    {
      name: 'ddpm_checkpoint_duration',
      help: 'Checkpoint duration.',
      type: 'histogram',
      labelNames: [],
      role: 'coordinator',
      buckets: [1, 2, 3, 4],
    },
    { name: 'ddpm_loss', help: 'Loss by step.', type: 'gauge', labelNames: ['step'], role: 'coordinator' },
  ];
  for (const d of bad)
    t.true(
      suffixRules.some(([, holds]) => !holds(d)),
      d.name,
    );
});

test('coordinator and worker split: every definition belongs to at least one role and worker metrics carry a worker label', (t) => {
  const coordinator = new Set(definitionsFor('coordinator').map((d) => d.name));
  const worker = definitionsFor('worker');
  t.true(coordinator.has('ddpm_loss'));
  t.true(coordinator.has('ddpm_backend_info'));
  t.true(worker.some((d) => d.name === 'ddpm_backend_info'));
  for (const d of worker.filter((d) => d.role === 'worker')) {
    t.false(coordinator.has(d.name), d.name);
    t.true(d.labelNames.includes('worker'), d.name);
  }
  const both = METRIC_DEFINITIONS.filter((d) => d.role === 'both').length;
  t.is(coordinator.size + worker.length - both, METRIC_DEFINITIONS.length);
});

test('selectable names include histogram series and used default metrics, not arbitrary suffixes', (t) => {
  const names = selectableNames();
  t.true(names.has('ddpm_step_duration_seconds_bucket'));
  t.true(names.has('ddpm_checkpoint_duration_seconds_count'));
  t.false(names.has('ddpm_loss_bucket'));
  for (const d of DEFAULT_METRIC_NAMES) t.true(names.has(d));
});
