import { fileURLToPath } from 'node:url';
import { alertingRulesYaml } from './alerting-rules.ts';
import { dashboardJson } from './dashboard.ts';
import { recordingRulesYaml } from './recording-rules.ts';

/** The repository root (this file is libs/metrics/src/deploy-files.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A generated file: its path relative to the repository root and its exact content. */
export interface GeneratedFile {
  readonly path: string;
  readonly content: string;
}

/**
 * Every file under deploy/ that is generated from code. The tests compare them byte for byte with the committed
 * files, so the dashboard and rules cannot drift from metric-definitions.ts. Does not: touch the file system.
 */
export function generatedDeployFiles(): GeneratedFile[] {
  return [
    { path: 'deploy/grafana/dashboards/ddpm-training.json', content: dashboardJson() },
    { path: 'deploy/prometheus/rules/ddpm.yml', content: recordingRulesYaml() },
    { path: 'deploy/prometheus/rules/ddpm-alerts.yml', content: alertingRulesYaml() },
  ];
}
