import type { ExecutionContext } from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ALERTING_RULES,
  dashboardExpressions,
  RECORDING_RULES,
  rateIntervalFor,
  renderExpression,
  runPromtool,
} from '@ddpm/metrics';
import { oneMinuteHistory, type ScrapedTarget } from './one-minute-history.ts';
import { startPrometheus, type InstantQueryResult } from './prometheus-server.ts';

/** Minutes of history: the longest rule window (5m) four times over, and the 10m straggler hold. */
const MINUTES = 20;

export interface OneMinuteCheckOptions {
  /** An empty directory for the history, the TSDB and the logs (removed by the caller). */
  readonly dir: string;
  /** The recording rules file (deploy/prometheus/rules/ddpm.yml). */
  readonly recordingRules: string;
  /** The live run's processes with their final /metrics bodies. */
  readonly targets: readonly ScrapedTarget[];
  /** The live run's id, for the dashboard's `$run`. */
  readonly run: string;
  /** Why an expression may have no data in this run (e.g. no evaluation), or undefined when it must have data. */
  readonly noDataExpected: (expr: string) => string | undefined;
}

const hasData = (r: InstantQueryResult): boolean =>
  r.status === 'success' && r.samples.some((s) => Number.isFinite(s.value));

/**
 * What it proves: every dashboard expression and recording rule returns data, and every alert expression is valid
 * and quiet, when Prometheus holds what a 1 m scrape interval stores (one sample a minute) and `$__rate_interval` is
 * Grafana's 4 m for that interval. The live run cannot be scraped for 20 minutes in a test, so its final /metrics
 * bodies are turned into 20 minutes of one-minute history (a steady run reaching those values; see
 * oneMinuteHistory), backfilled with `promtool tsdb create-blocks-from openmetrics`; the recording rules are
 * backfilled over it at a 1 m evaluation interval with `promtool tsdb create-blocks-from rules`, as a Prometheus
 * evaluating them every minute would have stored them. Does not: prove Grafana renders the panels.
 */
export async function checkAtOneMinute(t: ExecutionContext, options: OneMinuteCheckOptions): Promise<void> {
  const end = Math.floor(Date.now() / 1000) - 60;
  const start = end - (MINUTES - 1) * 60;
  // Queried half-way between two samples, as real queries fall between scrapes: a window of one scrape interval
  // then holds a single sample and rate() over it is empty (at a sample's own time it would hold two).
  const at = end - 30;
  const storagePath = join(options.dir, 'tsdb-1m');
  mkdirSync(storagePath);
  const historyPath = join(options.dir, 'history-1m.om');
  writeFileSync(historyPath, oneMinuteHistory(options.targets, MINUTES, end));
  const blocks = runPromtool(['tsdb', 'create-blocks-from', 'openmetrics', historyPath, storagePath]);
  t.is(blocks.status, 0, `promtool tsdb create-blocks-from openmetrics:\n${blocks.output}`);
  const configPath = join(options.dir, 'prometheus-1m.yml');
  writeFileSync(configPath, 'global:\n  scrape_interval: 1m\n  evaluation_interval: 1m\n');
  const server = { configPath, storagePath, logPath: join(options.dir, 'prometheus-1m.log') };

  const source = await startPrometheus(server);
  const rules = runPromtool([
    ...['tsdb', 'create-blocks-from', 'rules', `--start=${start}`, `--end=${end}`, `--url=${source.url}`],
    ...['--eval-interval=60s', `--output-dir=${storagePath}`, options.recordingRules],
  ]);
  await source.stop();
  t.is(rules.status, 0, `promtool tsdb create-blocks-from rules:\n${rules.output}`);
  const prometheus = await startPrometheus(server); // loads the rule blocks written meanwhile
  t.teardown(() => prometheus.stop());

  const values = { rateInterval: rateIntervalFor(60), run: options.run };
  let checked = 0;
  for (const { panel, expr } of dashboardExpressions()) {
    const rendered = renderExpression(expr, values);
    const result = await prometheus.query(rendered, at);
    t.is(result.status, 'success', `1m: ${panel}: ${rendered}: ${result.error}`);
    if (options.noDataExpected(rendered) === undefined) {
      t.true(hasData(result), `1m: ${panel}: ${rendered} returned no finite sample`);
      checked += 1;
    }
  }
  for (const { record } of RECORDING_RULES) {
    t.true(hasData(await prometheus.query(`${record}{run_id="${options.run}"}`, at)), `1m: rule ${record}`);
    checked += 1;
  }
  for (const { alert, expr } of ALERTING_RULES) {
    const result = await prometheus.query(expr, at);
    t.is(result.status, 'success', `1m: alert ${alert}: ${result.error}`);
    // A healthy run raises none; a straggler may be flagged at the last scrape, which is not a fault of the rules.
    if (alert !== 'DdpmStraggler') t.deepEqual(result.samples, [], `1m: ${alert} fires on a healthy run`);
    checked += 1;
  }
  t.log(`1m scrape interval: ${checked} expressions and rules checked on ${MINUTES} minutes of backfilled history`);
}
