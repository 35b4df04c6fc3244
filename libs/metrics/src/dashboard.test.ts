import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALERTING_RULES } from './alerting-rules.ts';
import { createCoordinatorMetrics } from './coordinator-metrics.ts';
import { createRegistry } from './create-registry.ts';
import { buildDashboard, dashboardExpressions } from './dashboard.ts';
import { generatedDeployFiles, REPO_ROOT } from './deploy-files.ts';
import { parseExposition } from './parse-exposition.ts';
import { selectedNames } from './promql-names.ts';
import { runPromtool } from './promtool.ts';
import { RECORDING_RULES } from './recording-rules.ts';
import { createWorkerMetrics } from './worker-metrics.ts';

const ruleNames = new Set<string>(RECORDING_RULES.map((r) => r.record));

/** Series families the two processes really export, read from their /metrics text (not from the definitions). */
async function exportedFamilies(): Promise<Set<string>> {
  const coordinator = createCoordinatorMetrics(createRegistry());
  const worker = createWorkerMetrics(createRegistry(), { worker: '0' });
  const families = new Set<string>();
  for (const registry of [coordinator.registry, worker.registry]) {
    const exposition = parseExposition(await registry.metrics());
    for (const s of exposition.samples) families.add(s.name);
    for (const name of exposition.types.keys()) families.add(name);
  }
  return families;
}

/** Series Prometheus itself writes for every target. */
const PROMETHEUS_SERIES = new Set(['up']);

/** Names in `expr` that are neither exported by a process nor a recording rule whose own inputs are exported. */
function unknownNames(expr: string, exported: ReadonlySet<string>): string[] {
  return selectedNames(expr).filter((name) => {
    if (exported.has(name) || PROMETHEUS_SERIES.has(name)) return false;
    const rule = RECORDING_RULES.find((r) => r.record === name);
    return rule === undefined || unknownNames(rule.expr, exported).length > 0;
  });
}

test('the committed deploy files equal what the code generates (run `npx nx run metrics:generate` if not)', (t) => {
  for (const file of generatedDeployFiles()) {
    t.is(readFileSync(join(REPO_ROOT, file.path), 'utf8'), file.content, file.path);
  }
});

test('every PromQL expression in the dashboard selects only metrics a process exports or recording rules', async (t) => {
  const exported = await exportedFamilies();
  const expressions = dashboardExpressions();
  t.true(expressions.length >= 20);
  for (const { panel, expr } of expressions) {
    t.true(selectedNames(expr).length > 0, `${panel}: ${expr} selects nothing`);
    t.deepEqual(unknownNames(expr, exported), [], `${panel}: ${expr}`);
  }
  for (const r of RECORDING_RULES) t.deepEqual(unknownNames(r.expr, exported), [], r.record);
});

test('the check catches a panel querying a metric no process exports', async (t) => {
  const exported = await exportedFamilies();
  t.deepEqual(unknownNames('sum(rate(ddpm_images_sent_total[1m]))', exported), ['ddpm_images_sent_total']);
  t.deepEqual(unknownNames('ddpm:made_up:rate1m', exported), ['ddpm:made_up:rate1m']);
});

test('every recording rule is used by the dashboard', (t) => {
  const used = new Set(dashboardExpressions().flatMap(({ expr }) => selectedNames(expr)));
  t.deepEqual(
    [...ruleNames].filter((r) => !used.has(r)),
    [],
  );
});

test('every panel and every query names the datasource through the variable, and the provisioned one is a default', (t) => {
  const provisioned = readFileSync(
    join(REPO_ROOT, 'deploy/grafana/provisioning/datasources/ddpm-prometheus.yml'),
    'utf8',
  );
  t.regex(provisioned, /^\s+type: prometheus$/m);
  t.regex(provisioned, /^\s+isDefault: true$/m, 'the datasource variable starts at the default Prometheus');
  t.regex(provisioned, /^\s+url: http:\/\/prometheus:9090$/m);
  const panels = (buildDashboard().panels ?? []).filter((p) => p.type !== 'row');
  t.true(panels.length >= 15);
  const variable = { type: 'prometheus', uid: '${datasource}' };
  for (const panel of panels) {
    if (!('targets' in panel) || panel.type === 'text') continue;
    t.deepEqual(panel.datasource, variable, panel.title);
    t.true((panel.targets ?? []).length > 0, panel.title);
    for (const target of panel.targets ?? [])
      t.deepEqual((target as { datasource?: unknown }).datasource, variable, panel.title);
  }
});

test('the dashboard answers the issue questions: required panels exist and ids are unique', (t) => {
  const panels = buildDashboard().panels ?? [];
  const titles = panels.map((p) => p.title);
  for (const title of [
    'Loss',
    'Throughput',
    'Step time by phase',
    'Images/s per worker',
    'Stragglers',
    'Failures, membership and skipped steps',
    'Checkpoint age',
    'Last checkpoint step',
    'Bytes moved',
    'Active workers',
    'Learning rate',
    'Gradient global norm',
    'Targets up',
    'Sample quality (Frechet distance)',
    'FD / floor',
    'Newest samples',
    'tfjs memory per worker',
  ]) {
    t.true(titles.includes(title), title);
  }
  const ids = panels.map((p) => p.id);
  t.is(new Set(ids).size, ids.length);
});

test('promtool accepts the shipped Prometheus config and recording rules', (t) => {
  const config = runPromtool(['check', 'config', join(REPO_ROOT, 'deploy/prometheus/prometheus.yml')]);
  if (!config.available) {
    t.fail('promtool is missing: install it with `apt-get install -y prometheus` (.ci/run does).');
    return;
  }
  t.is(config.status, 0, config.output);
  t.regex(config.output, /SUCCESS: 2 rule files found/);
  const rules = runPromtool(['check', 'rules', join(REPO_ROOT, 'deploy/prometheus/rules/ddpm.yml')]);
  t.is(rules.status, 0, rules.output);
  t.regex(rules.output, new RegExp(`SUCCESS: ${RECORDING_RULES.length} rules found`));
  const alerts = runPromtool(['check', 'rules', join(REPO_ROOT, 'deploy/prometheus/rules/ddpm-alerts.yml')]);
  t.is(alerts.status, 0, alerts.output);
  t.regex(alerts.output, new RegExp(`SUCCESS: ${ALERTING_RULES.length} rules found`));
});

test('every alert expression selects only metrics a process exports, up, or recording rules', async (t) => {
  const exported = await exportedFamilies();
  for (const r of ALERTING_RULES) t.deepEqual(unknownNames(r.expr, exported), [], r.alert);
});
