// `promtool test rules` over deploy/prometheus/tests: every alert fires and stays quiet where it should, every
// recording rule gives its expected value, all at a 1 m scrape and evaluation interval. The mutation test below
// shows the unit tests can fail: with any one alert removed from the rules, promtool reports a failure.
import test from 'ava';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ALERTING_RULES, alertingRulesYaml } from './alerting-rules.ts';
import { REPO_ROOT } from './deploy-files.ts';
import { runPromtool } from './promtool.ts';
import { RECORDING_RULES } from './recording-rules.ts';

const RULES_DIR = join(REPO_ROOT, 'deploy/prometheus/rules');
const TESTS_DIR = join(REPO_ROOT, 'deploy/prometheus/tests');

interface RuleTestFile {
  rule_files: string[];
  evaluation_interval?: string;
  tests: {
    interval?: string;
    alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
    promql_expr_test?: { expr: string }[];
  }[];
}

const readTests = (name: string): RuleTestFile => parse(readFileSync(join(TESTS_DIR, name), 'utf8')) as RuleTestFile;

function promtoolTest(t: import('ava').ExecutionContext, file: string): ReturnType<typeof runPromtool> | undefined {
  const result = runPromtool(['test', 'rules', file]);
  if (!result.available) {
    t.fail('promtool is missing: install it with `apt-get install -y prometheus` (.ci/run does).');
    return undefined;
  }
  return result;
}

test('every rules file has a unit-test file, run at a 1 m scrape and evaluation interval', (t) => {
  const rules = readdirSync(RULES_DIR).filter((f) => f.endsWith('.yml'));
  t.deepEqual(rules.sort(), ['ddpm-alerts.yml', 'ddpm.yml']);
  for (const file of rules) {
    const tests = readTests(file.replace(/\.yml$/, '.test.yml'));
    t.deepEqual(tests.rule_files, [`../rules/${file}`]);
    t.is(tests.evaluation_interval, '1m', file);
    for (const group of tests.tests) t.is(group.interval, '1m', file);
  }
});

for (const file of ['ddpm-alerts.test.yml', 'ddpm.test.yml']) {
  test(`promtool test rules ${file} passes`, (t) => {
    const result = promtoolTest(t, join(TESTS_DIR, file));
    if (result !== undefined) t.is(result.status, 0, result.output);
  });
}

test('every alert has a case where it fires and a case where it does not', (t) => {
  const cases = readTests('ddpm-alerts.test.yml').tests.flatMap((g) => g.alert_rule_test ?? []);
  for (const { alert } of ALERTING_RULES) {
    const mine = cases.filter((c) => c.alertname === alert);
    t.true(
      mine.some((c) => (c.exp_alerts ?? []).length > 0),
      `${alert} is never expected to fire`,
    );
    t.true(
      mine.some((c) => (c.exp_alerts ?? []).length === 0),
      `${alert} is never expected to stay quiet`,
    );
  }
});

test('every recording rule has an expected value', (t) => {
  const exprs = readTests('ddpm.test.yml').tests.flatMap((g) => (g.promql_expr_test ?? []).map((c) => c.expr));
  for (const { record } of RECORDING_RULES) t.true(exprs.includes(record), record);
});

test('the alert unit tests fail when any one alert is missing from the rules', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-alert-mutation-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'rules'));
  mkdirSync(join(dir, 'tests'));
  copyFileSync(join(TESTS_DIR, 'ddpm-alerts.test.yml'), join(dir, 'tests', 'ddpm-alerts.test.yml'));
  const full = alertingRulesYaml();
  for (const { alert } of ALERTING_RULES) {
    // Each rule is one block starting at "      - alert: NAME"; drop that block.
    const blocks = full.split(/(?=^ {6}- alert: )/m);
    const without = blocks.filter((b) => !b.startsWith(`      - alert: ${alert}\n`)).join('');
    t.not(without, full, alert);
    writeFileSync(join(dir, 'rules', 'ddpm-alerts.yml'), without);
    const result = promtoolTest(t, join(dir, 'tests', 'ddpm-alerts.test.yml'));
    if (result === undefined) return;
    t.not(result.status, 0, `the tests still pass without ${alert}`);
    t.regex(result.output, new RegExp(alert), alert);
  }
});
