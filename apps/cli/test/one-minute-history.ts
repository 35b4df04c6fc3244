import { parseExposition } from '@ddpm/metrics';

/** One scraped process: its Prometheus target labels and its /metrics body at the end of the live run. */
export interface ScrapedTarget {
  readonly job: string;
  readonly instance: string;
  readonly body: string;
}

/** Gauges that only grow during a healthy run, so their history rises like a counter's. */
const RISING_GAUGES = new Set(['ddpm_step', 'ddpm_epoch', 'ddpm_last_checkpoint_step']);

/** Escapes a label value for the text format. */
const escape = (value: string): string => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function rises(name: string, types: ReadonlyMap<string, string>): boolean {
  if (RISING_GAUGES.has(name)) return true;
  if (types.get(name) === 'counter') return true;
  const family = name.replace(/_(bucket|sum|count)$/, '');
  return family !== name && ['histogram', 'summary'].includes(types.get(family) ?? '');
}

/**
 * Builds an OpenMetrics text (for `promtool tsdb create-blocks-from openmetrics`) holding `minutes` samples a minute
 * apart, the last at `endSeconds`, of every series the targets exported at the end of the live run, plus `up` = 1
 * per target: the history a Prometheus with a 1 m scrape interval would have stored for a run that progressed
 * steadily to those values. Counters, histogram series and rising gauges (step, epoch) grow linearly from 1/minutes
 * of their final value; other gauges keep their final value.
 *
 * Promises: samples of each series in time order; no TYPE lines (every family is "unknown", so the backfiller keeps
 * the names as exported); ends with `# EOF`. Does not: check that the bodies are valid (the live test does).
 */
export function oneMinuteHistory(targets: readonly ScrapedTarget[], minutes: number, endSeconds: number): string {
  const lines: string[] = [];
  for (const target of targets) {
    const exposition = parseExposition(target.body);
    const series = [
      ...exposition.samples.map((s) => ({ ...s, grows: rises(s.name, exposition.types) })),
      { name: 'up', labels: {}, value: 1, grows: false },
    ];
    for (const s of series) {
      if (!Number.isFinite(s.value)) continue;
      const labels = { ...s.labels, job: target.job, instance: target.instance };
      const text = Object.entries(labels)
        .map(([k, v]) => `${k}="${escape(v)}"`)
        .join(',');
      for (let i = 0; i < minutes; i++) {
        const value = s.grows ? (s.value * (i + 1)) / minutes : s.value;
        lines.push(`${s.name}{${text}} ${value} ${endSeconds - (minutes - 1 - i) * 60}`);
      }
    }
  }
  lines.push('# EOF');
  return lines.join('\n') + '\n';
}
