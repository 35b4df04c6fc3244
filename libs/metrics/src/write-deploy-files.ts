/**
 * Writes the generated deploy files (Grafana dashboard JSON, Prometheus recording rules) into the repository.
 * Run with `npx nx run metrics:generate` (or `npx tsx libs/metrics/src/write-deploy-files.ts`) after changing
 * metric-definitions.ts, recording-rules.ts or dashboard.ts, and commit the result.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generatedDeployFiles, REPO_ROOT } from './deploy-files.ts';

for (const file of generatedDeployFiles()) {
  const target = join(REPO_ROOT, file.path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, file.content);
  console.log(`wrote ${file.path}`);
}
