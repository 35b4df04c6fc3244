/**
 * The single source of truth for every Prometheus metric a ddpm process exports.
 *
 * The coordinator and worker factories register exactly these definitions, the recording rules and the Grafana
 * dashboard refer to metrics only through `MetricName`, and the tests check every name against Prometheus naming rules.
 * Adding a metric means adding it to coordinator-metric-definitions.ts or worker-metric-definitions.ts; nothing else
 * spells a metric name.
 *
 * Label values are bounded: `worker` is a short worker id (e.g. `0` or `worker-1`), `phase`, `reason` and `role`
 * come from the fixed sets in metric-labels.ts, `backend` is a tfjs backend name. No label ever carries a step number
 * or a path.
 */
import { COORDINATOR_METRICS } from './coordinator-metric-definitions.ts';
import type { MetricDefinition, Role } from './metric-labels.ts';
import { WORKER_METRICS } from './worker-metric-definitions.ts';

export * from './metric-labels.ts';

/** Every metric, keyed by a short handle. The key is internal; `name` is what Prometheus sees. */
export const METRICS = { ...COORDINATOR_METRICS, ...WORKER_METRICS } as const;

export type MetricKey = keyof typeof METRICS;
/** Every exported ddpm metric name. */
export type MetricName = (typeof METRICS)[MetricKey]['name'];
type HistogramName = Extract<(typeof METRICS)[MetricKey], { type: 'histogram' }>['name'];
/** Series names Prometheus derives from a histogram. */
export type HistogramSeriesName = `${HistogramName}_${'bucket' | 'sum' | 'count'}`;

/**
 * Process metrics from prom-client's `collectDefaultMetrics` that the dashboard and the alerts use. They keep their standard,
 * unprefixed names so stock Node.js dashboards work too; the tests check that a registry really exports them.
 */
export const DEFAULT_METRIC_NAMES = [
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_eventloop_lag_p99_seconds',
  'process_start_time_seconds',
] as const;
export type DefaultMetricName = (typeof DEFAULT_METRIC_NAMES)[number];

/** A name a PromQL expression may select: an exported metric, a histogram series or a used default metric. */
export type SelectableName = MetricName | HistogramSeriesName | DefaultMetricName;

/** All definitions as a list, in declaration order. */
export const METRIC_DEFINITIONS: readonly MetricDefinition[] = Object.values(METRICS);

/** The definitions a process of `role` exports (its own plus those marked `both`). */
export function definitionsFor(role: Role): MetricDefinition[] {
  return METRIC_DEFINITIONS.filter((d) => d.role === role || d.role === 'both');
}

/** Every name a PromQL expression may select, including histogram `_bucket`/`_sum`/`_count` series. */
export function selectableNames(): Set<string> {
  const names = new Set<string>(DEFAULT_METRIC_NAMES);
  for (const d of METRIC_DEFINITIONS) {
    names.add(d.name);
    if (d.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(d.name + s);
  }
  return names;
}
