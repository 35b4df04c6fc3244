import { resolve } from 'node:path';

/**
 * The `routes` option of serveMetrics (@ddpm/metrics) that serves the run page of `runDirectory` (the run's --out):
 * the page at `/`, its JSON at `/api/*`, and `OUT/samples/*.png` at `/samples/NAME` (newest at `/samples/latest.png`).
 */
export function runPageRoutes(runDirectory: string): {
  readonly module: string;
  readonly data: { runDirectory: string };
} {
  return {
    module: new URL('./run-page-routes.mjs', import.meta.url).href,
    data: { runDirectory: resolve(runDirectory) },
  };
}
