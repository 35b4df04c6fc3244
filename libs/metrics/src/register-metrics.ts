import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { definitionsFor, type MetricDefinition, type Role } from './metric-definitions.ts';

/** Default metrics dropped because they are gauges named like counters (promtool: non-counter with _total suffix). */
export const NON_CONFORMING_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

/** The prom-client objects for every definition of one role, by metric name. */
export interface RegisteredMetrics {
  counter(def: MetricDefinition): Counter;
  gauge(def: MetricDefinition): Gauge;
  histogram(def: MetricDefinition): Histogram;
}

/**
 * Registers every metric of `role` (see `definitionsFor`) in `registry`, plus prom-client's process default metrics
 * unless `defaultMetrics` is false or the registry already has them (minus `NON_CONFORMING_DEFAULT_METRICS`).
 *
 * Promises: after it returns, `registry.metrics()` lists every definition of `role` with its help and type.
 * Precondition: `registry` holds no metric with a ddpm name yet; one registry per process, one factory call per registry.
 * Does not: touch prom-client's global registry, start timers, or open sockets.
 */
export function registerMetrics(
  registry: Registry,
  role: Role,
  caller: string,
  defaultMetrics: boolean,
): RegisteredMetrics {
  const byName = new Map<string, Counter | Gauge | Histogram>();
  for (const def of definitionsFor(role)) {
    if (registry.getSingleMetric(def.name) !== undefined) {
      throw new Error(
        `${caller}: metric ${def.name} is already registered in this registry. Give each process its own registry ` +
          `(createRegistry()) and call createCoordinatorMetrics or createWorkerMetrics once per registry.`,
      );
    }
    const common = { name: def.name, help: def.help, labelNames: [...def.labelNames], registers: [registry] };
    const metric =
      def.type === 'counter'
        ? new Counter(common)
        : def.type === 'gauge'
          ? new Gauge(common)
          : new Histogram({ ...common, buckets: [...(def.buckets ?? [])] });
    byName.set(def.name, metric);
  }
  if (defaultMetrics && registry.getSingleMetric('process_cpu_seconds_total') === undefined) {
    collectDefaultMetrics({ register: registry });
    // prom-client exports these as gauges ending in _total, which `promtool check metrics` rejects.
    for (const name of NON_CONFORMING_DEFAULT_METRICS) registry.removeSingleMetric(name);
  }
  const get = (def: MetricDefinition, type: MetricDefinition['type']): Counter | Gauge | Histogram => {
    const metric = byName.get(def.name);
    if (metric === undefined || def.type !== type) {
      throw new Error(
        `${caller}: ${def.name} is not a ${type} exported by the ${role}; this is a bug in @ddpm/metrics.`,
      );
    }
    return metric;
  };
  return {
    counter: (def) => get(def, 'counter') as Counter,
    gauge: (def) => get(def, 'gauge') as Gauge,
    histogram: (def) => get(def, 'histogram') as Histogram,
  };
}

/**
 * Sets `ddpm_backend_info{role,backend}` to 1 for `backend` and removes any previous backend's series, so exactly
 * one backend is reported. Precondition: `backend` is a short backend name such as `cpu`, `wasm` or `tensorflow`.
 */
export function setBackendInfo(info: Gauge, role: Role, backend: string): void {
  assertLabelValue('backend', backend, '--backend');
  info.reset();
  info.set({ role, backend }, 1);
}

/** Which run a process belongs to, as `ddpm_run_info{run_id, preset}` reports it. */
export interface RunIdentity {
  /** The run id (the coordinator's, sent to workers in Welcome); a short id, never a path. */
  readonly runId: string;
  /** The model preset name, e.g. `mnist-tiny`. */
  readonly preset: string;
}

/** Sets `ddpm_run_info{run_id, preset}` to 1 and removes any previous run's series, so one run is reported. */
export function setRunInfo(info: Gauge, run: RunIdentity): void {
  assertLabelValue('run_id', run.runId, 'the run id (from the run directory or the coordinator Welcome)');
  assertLabelValue('preset', run.preset, '--preset');
  info.reset();
  info.set({ run_id: run.runId, preset: run.preset }, 1);
}

/** Rejects label values that would make series unbounded or unreadable (paths, long strings, empty). */
export function assertLabelValue(label: string, value: string, flag: string): void {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(value)) {
    throw new Error(
      `metrics: ${label} label value ${JSON.stringify(value)} is not a short id (1-64 of A-Z a-z 0-9 _ . -). ` +
        `Label values must be small bounded names, never paths or step numbers; pass a short name with ${flag}.`,
    );
  }
}
