import { DashboardBuilder, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import * as units from '@grafana/grafana-foundation-sdk/units';
import { timeseries } from './dashboard-panels.ts';
import { inRun, RATE_INTERVAL } from './dashboard-variables.ts';
import { metric } from './recording-rules.ts';

/** The row 'Checkpoints, network and processes'. */
export function processesRow(builder: DashboardBuilder): DashboardBuilder {
  const rate = (name: Parameters<typeof metric>[0], window = RATE_INTERVAL) =>
    inRun(`rate(${metric(name)}[${window}])`);
  return builder
    .withRow(new RowBuilder('Checkpoints, network and processes'))
    .withPanel(
      timeseries(
        'Checkpoint duration',
        'Mean time to write a checkpoint over 15m, and the step of the latest one (right axis).',
        units.Seconds,
        [
          {
            expr: `sum(${rate('ddpm_checkpoint_duration_seconds_sum', '15m')}) / sum(${rate('ddpm_checkpoint_duration_seconds_count', '15m')})`,
            legend: 'mean duration',
          },
          { expr: inRun(metric('ddpm_last_checkpoint_step')), legend: 'last checkpoint step' },
        ],
      ).overrideByName('last checkpoint step', [
        { id: 'custom.axisPlacement', value: 'right' },
        { id: 'unit', value: units.Short },
      ]),
    )
    .withPanel(
      timeseries(
        'Bytes moved',
        'Bytes per second sent and received by the coordinator and each selected worker.',
        units.BytesPerSecondIEC,
        [
          { expr: rate('ddpm_coordinator_sent_bytes_total'), legend: 'coordinator sent' },
          { expr: rate('ddpm_coordinator_received_bytes_total'), legend: 'coordinator received' },
          {
            expr: `sum by (worker) (${inRun(`rate(${metric('ddpm_worker_sent_bytes_total')}{worker=~"$worker"}[${RATE_INTERVAL}])`)})`,
            legend: 'worker {{worker}} sent',
          },
          {
            expr: `sum by (worker) (${inRun(`rate(${metric('ddpm_worker_received_bytes_total')}{worker=~"$worker"}[${RATE_INTERVAL}])`)})`,
            legend: 'worker {{worker}} received',
          },
        ],
      ),
    )
    .withPanel(
      timeseries(
        'Process CPU and memory',
        'CPU seconds per second and resident memory of every process of the run.',
        units.Short,
        [
          { expr: rate('process_cpu_seconds_total'), legend: 'cpu {{job}} {{instance}}' },
          { expr: inRun(metric('process_resident_memory_bytes')), legend: 'rss {{job}} {{instance}}' },
        ],
      ).overrideByRegexp('^rss .*', [
        { id: 'custom.axisPlacement', value: 'right' },
        { id: 'unit', value: units.BytesIEC },
      ]),
    )
    .withPanel(
      timeseries(
        'Event-loop lag p99',
        'Node.js event-loop delay (p99) of every process; high values delay messages and scrapes.',
        units.Seconds,
        [{ expr: inRun(metric('nodejs_eventloop_lag_p99_seconds')), legend: '{{job}} {{instance}}' }],
      ),
    );
}
