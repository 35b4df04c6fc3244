import * as common from '@grafana/grafana-foundation-sdk/common';
import { DashboardBuilder, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import * as units from '@grafana/grafana-foundation-sdk/units';
import { timeseries } from './dashboard-panels.ts';
import { inRun, RATE_INTERVAL } from './dashboard-variables.ts';
import { metric, rule } from './recording-rules.ts';

const RUN = '{run_id="$run"}';

/** The row 'How fast is it going?'. */
export function speedRow(builder: DashboardBuilder): DashboardBuilder {
  return builder
    .withRow(new RowBuilder('How fast is it going?'))
    .withPanel(
      timeseries(
        'Throughput',
        'Images per second: global (applied steps, over $__rate_interval and the 5m recording rule), latest step, and the sum over the selected workers.',
        units.Short,
        [
          {
            expr: `sum(${inRun(`rate(${metric('ddpm_images_total')}[${RATE_INTERVAL}])`)})`,
            legend: 'global',
          },
          { expr: `${rule('run:ddpm_images:rate5m')}${RUN}`, legend: 'global (5m average)' },
          { expr: inRun(metric('ddpm_images_per_second')), legend: 'global (latest step)' },
          {
            expr: `sum(${inRun(`rate(${metric('ddpm_worker_images_total')}{worker=~"$worker"}[${RATE_INTERVAL}])`)})`,
            legend: 'sum over workers',
          },
        ],
      ),
    )
    .withPanel(
      timeseries(
        'Step duration',
        'Coordinator wall time per synchronous step: median and 90th percentile over 5m (recording rules), and the 90th percentile over $__rate_interval.',
        units.Seconds,
        [
          { expr: `${rule('run:ddpm_step_duration_seconds:p50_5m')}${RUN}`, legend: 'p50 (5m)' },
          { expr: `${rule('run:ddpm_step_duration_seconds:p90_5m')}${RUN}`, legend: 'p90 (5m)' },
          {
            expr: `histogram_quantile(0.9, sum by (le) (${inRun(`rate(${metric('ddpm_step_duration_seconds_bucket')}[${RATE_INTERVAL}])`)}))`,
            legend: 'p90',
          },
        ],
      ),
    );
}

/** The row 'Where does the step time go?'. */
export function stepTimeRow(builder: DashboardBuilder): DashboardBuilder {
  return builder
    .withRow(new RowBuilder('Where does the step time go?'))
    .withPanel(
      timeseries(
        'Step time by phase',
        'Mean seconds per step in each phase over 5m: worker phases averaged over workers, then coordinator phases.',
        units.Seconds,
        [
          { expr: `${rule('run_phase:ddpm_worker_phase_duration_seconds:mean5m')}${RUN}`, legend: 'worker {{phase}}' },
          {
            expr: `${rule('run_phase:ddpm_coordinator_phase_duration_seconds:mean5m')}${RUN}`,
            legend: 'coordinator {{phase}}',
          },
        ],
      )
        .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
        .fillOpacity(60),
    )
    .withPanel(
      timeseries(
        'Worker compute time',
        'Mean seconds per step each selected worker spends computing its gradient (5m).',
        units.Seconds,
        [
          {
            expr: `${rule('run_worker_phase:ddpm_worker_phase_duration_seconds:mean5m')}{run_id="$run", worker=~"$worker", phase="compute"}`,
            legend: '{{worker}}',
          },
        ],
      ),
    );
}
