import { DashboardBuilder, DashboardCursorSync, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { learningRow } from './dashboard-learning-rows.ts';
import { processesRow } from './dashboard-process-row.ts';
import { speedRow, stepTimeRow } from './dashboard-speed-rows.ts';
import { withVariables } from './dashboard-variables.ts';
import { workersRow } from './dashboard-worker-rows.ts';

/** The dashboard's stable uid, so links to it survive re-provisioning. */
export const DASHBOARD_UID = 'ddpm-training';

/**
 * Builds the "DDPM training" Grafana dashboard. Every query goes to the datasource chosen in the `datasource`
 * variable (no fixed uid), is filtered to the `run` variable, and selects metrics only through `metric()`/`rule()`,
 * so a name missing from metric-definitions.ts or recording-rules.ts does not compile.
 *
 * Promises: the same JSON on every call (no timestamps, sequential panel ids). Does not: write files
 * (write-deploy-files.ts does) or talk to Grafana.
 */
export function buildDashboard(): Dashboard {
  const builder = new DashboardBuilder('DDPM training')
    .uid(DASHBOARD_UID)
    .description(
      'Distributed DDPM training: is it learning, how fast, where the step time goes, which worker is slow or gone, when the last checkpoint was.',
    )
    .tags(['ddpm', 'training'])
    .refresh('10s')
    .time({ from: 'now-30m', to: 'now' })
    .timezone('browser')
    .tooltip(DashboardCursorSync.Crosshair)
    .readonly();
  withVariables(builder);
  for (const addRow of [learningRow, speedRow, stepTimeRow, workersRow, processesRow]) addRow(builder);
  const dashboard = builder.build();
  let id = 1;
  for (const panel of dashboard.panels ?? []) panel.id = id++;
  return dashboard;
}

/** The dashboard as the committed file content: 2-space JSON with a trailing newline. */
export function dashboardJson(): string {
  return JSON.stringify(buildDashboard(), null, 2) + '\n';
}

/** Every PromQL expression in the dashboard, with its panel title, in panel order (for tests against Prometheus). */
export function dashboardExpressions(dashboard: Dashboard = buildDashboard()): { panel: string; expr: string }[] {
  const found: { panel: string; expr: string }[] = [];
  for (const panel of dashboard.panels ?? []) {
    if (!('targets' in panel)) continue;
    for (const target of panel.targets ?? []) {
      const expr = (target as { expr?: unknown }).expr;
      if (typeof expr === 'string') found.push({ panel: panel.title ?? '', expr });
    }
  }
  return found;
}
