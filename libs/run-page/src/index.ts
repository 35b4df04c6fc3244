// Public API of @ddpm/run-page: the read-only page served at / on the metrics HTTP port of the coordinator and of
// `ddpm train` (see docs/run-page.md). The routes run in the metrics HTTP thread (plain JavaScript: run-page-routes.mjs);
// this module only says where they are and what the training process publishes for them.
export type { RunPageState, RunPageWorker } from './run-page-state.ts';
export { runPageRoutes } from './run-page-routes-option.ts';
