import {
  DashboardBuilder,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  TextBoxVariableBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { metric } from './recording-rules.ts';

/**
 * Every panel and query names its datasource through the `datasource` variable, never a fixed uid, so the dashboard
 * imported into a Grafana whose Prometheus datasource has another name or uid works once that datasource is picked.
 */
export const datasource = { type: 'prometheus', uid: '${datasource}' };

/** Grafana's window for rate(): at least 4 scrape intervals (set the datasource's scrape interval to match). */
export const RATE_INTERVAL = '$__rate_interval';

/** Default of the `run_page` variable: the coordinator's metrics port on this machine, which serves the run page. */
export const RUN_PAGE_DEFAULT = 'http://localhost:9400';

/** The selected run's processes: every coordinator and worker whose `ddpm_run_info` names `$run`. */
const RUN_INFO = `${metric('ddpm_run_info')}{run_id="$run"}`;

/**
 * Keeps the series of `vector` that come from a process of the selected run (`$run`), matched on job and instance.
 * Apply it to instant vectors (after rate(), before sum()).
 */
export function inRun(vector: string): string {
  return `(${vector} and on (job, instance) ${RUN_INFO})`;
}

/**
 * Like `inRun`, but also keeps series of processes that reported the run in the last hour and have since stopped
 * exporting (used for `up`: a target that is down exports nothing, so its run_info is stale).
 */
export function inRecentRun(vector: string): string {
  return `(${vector} and on (job, instance) max_over_time(${RUN_INFO}[1h]))`;
}

/** Adds the datasource, run, worker and run-page variables, in that order. */
export function withVariables(builder: DashboardBuilder): DashboardBuilder {
  const runs = `label_values(${metric('ddpm_run_info')}, run_id)`;
  const workers = `query_result(max by (worker) (${inRun(metric('ddpm_worker_images_total'))}))`;
  return builder
    .withVariable(
      new DatasourceVariableBuilder('datasource')
        .label('Prometheus')
        .description('The Prometheus that scrapes the ddpm processes (any name or uid).')
        .type('prometheus'),
    )
    .withVariable(
      new QueryVariableBuilder('run')
        .label('Run')
        .description('The training run: run_id of ddpm_run_info, exported by the coordinator and its workers.')
        .datasource(datasource)
        .query(runs)
        .definition(runs)
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc),
    )
    .withVariable(
      new QueryVariableBuilder('worker')
        .label('Worker')
        .description('Workers of the selected run shown in the per-worker panels.')
        .datasource(datasource)
        .query(workers)
        .definition(workers)
        .regex('/worker="([^"]+)"/')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    )
    .withVariable(
      new TextBoxVariableBuilder('run_page')
        .label('Run page URL')
        .description(
          "Base URL of the run page (the coordinator's or `ddpm train`'s metrics port) as your browser reaches it.",
        )
        .defaultValue(RUN_PAGE_DEFAULT),
    );
}
