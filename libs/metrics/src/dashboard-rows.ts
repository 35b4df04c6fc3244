import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  MappingType,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as StateTimelinePanelBuilder } from '@grafana/grafana-foundation-sdk/statetimeline';
import * as units from '@grafana/grafana-foundation-sdk/units';
import { datasource, stat, targets, timeseries } from './dashboard-panels.ts';
import { metric, rule } from './recording-rules.ts';

/** The row 'Is it learning?'. */
export function learningRow(builder: DashboardBuilder): DashboardBuilder {
  return builder
    .withRow(new RowBuilder('Is it learning?'))
    .withPanel(
      timeseries(
        'Loss',
        'Latest global-batch loss and its bias-corrected moving average (computed in the coordinator).',
        units.NoUnit,
        [
          { expr: metric('ddpm_loss'), legend: 'loss' },
          { expr: metric('ddpm_loss_smoothed'), legend: 'smoothed' },
        ],
      ),
    )
    .withPanel(
      timeseries(
        'Learning rate',
        'Learning rate of the latest applied step.',
        units.NoUnit,
        [{ expr: metric('ddpm_learning_rate'), legend: 'learning rate' }],
        6,
      ),
    )
    .withPanel(
      timeseries(
        'Gradient global norm',
        'Global L2 norm of the averaged gradient, before clipping.',
        units.NoUnit,
        [{ expr: metric('ddpm_gradient_global_norm'), legend: 'grad norm' }],
        6,
      ),
    )
    .withPanel(
      stat(
        'Step',
        'Optimizer steps applied so far.',
        units.Short,
        { expr: metric('ddpm_step'), legend: 'step' },
        'no step yet',
      ),
    )
    .withPanel(
      stat(
        'Epoch',
        'Current epoch, from 0.',
        units.Short,
        { expr: metric('ddpm_epoch'), legend: 'epoch' },
        'no step yet',
      ),
    )
    .withPanel(
      stat(
        'Active workers',
        'Workers taking part in synchronous steps.',
        units.Short,
        { expr: metric('ddpm_active_workers'), legend: 'workers' },
        'coordinator down',
      ),
    )
    .withPanel(
      stat(
        'Last checkpoint step',
        'Step recorded by the latest completed checkpoint.',
        units.Short,
        { expr: `${metric('ddpm_last_checkpoint_step')} > 0`, legend: 'step' },
        'no checkpoint yet',
      ),
    )
    .withPanel(
      stat(
        'Checkpoint age',
        'Time since the latest checkpoint completed.',
        units.Seconds,
        { expr: `time() - (${metric('ddpm_last_checkpoint_timestamp_seconds')} > 0)`, legend: 'age' },
        'no checkpoint yet',
      ),
    )
    .withPanel(
      stat(
        'Backend',
        'tfjs backend of each process.',
        units.NoUnit,
        { expr: `count by (role, backend) (${metric('ddpm_backend_info')})`, legend: '{{role}}: {{backend}}' },
        'unknown',
      ).textMode(common.BigValueTextMode.Name),
    );
}

/** The row 'How fast is it going?'. */
export function speedRow(builder: DashboardBuilder): DashboardBuilder {
  return builder
    .withRow(new RowBuilder('How fast is it going?'))
    .withPanel(
      timeseries(
        'Throughput',
        'Images per second: global (applied steps, 1m rate), latest step, and the sum over workers.',
        units.Short,
        [
          { expr: rule('ddpm:images_per_second:rate1m'), legend: 'global (1m rate)' },
          { expr: metric('ddpm_images_per_second'), legend: 'global (latest step)' },
          { expr: `sum(${rule('worker:ddpm_worker_images_per_second:rate1m')})`, legend: 'sum over workers (1m rate)' },
        ],
      ),
    )
    .withPanel(
      timeseries(
        'Step duration',
        'Coordinator wall time per synchronous step (median and 90th percentile over 1m).',
        units.Seconds,
        [
          { expr: rule('ddpm:step_duration_seconds:p50_1m'), legend: 'p50' },
          { expr: rule('ddpm:step_duration_seconds:p90_1m'), legend: 'p90' },
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
        'Mean seconds per step in each phase over 1m: worker phases averaged over workers, then coordinator phases.',
        units.Seconds,
        [
          { expr: rule('phase:ddpm_worker_phase_duration_seconds:mean1m'), legend: 'worker {{phase}}' },
          { expr: rule('phase:ddpm_coordinator_phase_duration_seconds:mean1m'), legend: 'coordinator {{phase}}' },
        ],
      )
        .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
        .fillOpacity(60),
    )
    .withPanel(
      timeseries(
        'Worker compute time',
        'Mean seconds per step each worker spends computing its gradient (1m).',
        units.Seconds,
        [
          {
            expr: `${rule('worker_phase:ddpm_worker_phase_duration_seconds:mean1m')}{phase="compute"}`,
            legend: '{{worker}}',
          },
        ],
      ),
    );
}

/** The row 'Which worker is slow or gone?'. */
export function workersRow(builder: DashboardBuilder): DashboardBuilder {
  return builder
    .withRow(new RowBuilder('Which worker is slow or gone?'))
    .withPanel(
      timeseries(
        'Images/s per worker',
        'One lane per worker: local batch / step time of its latest step, and its 1m rate.',
        units.Short,
        [
          { expr: `max by (worker) (${metric('ddpm_worker_images_per_second')})`, legend: '{{worker}} latest' },
          { expr: rule('worker:ddpm_worker_images_per_second:rate1m'), legend: '{{worker}} 1m rate' },
        ],
      ),
    )
    .withPanel(
      new StateTimelinePanelBuilder()
        .title('Stragglers')
        .description('Per worker: red while the coordinator marks it a straggler.')
        .datasource(datasource)
        .targets(targets([{ expr: `max by (worker) (${metric('ddpm_worker_straggler')})`, legend: '{{worker}}' }]))
        .span(12)
        .height(8)
        .mappings([
          {
            type: MappingType.ValueToText,
            options: {
              '0': { text: 'ok', color: 'green', index: 0 },
              '1': { text: 'straggler', color: 'red', index: 1 },
            },
          },
        ])
        .thresholds(
          new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
            { value: null, color: 'green' },
            { value: 1, color: 'red' },
          ]),
        ),
    )
    .withPanel(
      timeseries(
        'Failures, membership and skipped steps',
        'Events in the last 5m: worker failures by reason, joins, leaves, and steps skipped for non-finite values.',
        units.Short,
        [
          {
            expr: `sum by (worker, reason) (increase(${metric('ddpm_worker_failures_total')}[5m]))`,
            legend: 'failure {{worker}} {{reason}}',
          },
          { expr: `sum(increase(${metric('ddpm_worker_joins_total')}[5m]))`, legend: 'joins' },
          { expr: `sum(increase(${metric('ddpm_worker_leaves_total')}[5m]))`, legend: 'leaves' },
          {
            expr: `sum by (reason) (increase(${metric('ddpm_skipped_steps_total')}[5m]))`,
            legend: 'skipped {{reason}}',
          },
        ],
      ),
    )
    .withPanel(
      timeseries('Active workers', 'Workers taking part in synchronous steps.', units.Short, [
        { expr: metric('ddpm_active_workers'), legend: 'active workers' },
      ]),
    );
}

/** The row 'Checkpoints, network and processes'. */
export function processesRow(builder: DashboardBuilder): DashboardBuilder {
  return builder
    .withRow(new RowBuilder('Checkpoints, network and processes'))
    .withPanel(
      timeseries(
        'Checkpoint duration',
        'Mean time to write a checkpoint over 15m, and the step of the latest one (right axis).',
        units.Seconds,
        [
          {
            expr: `sum(rate(${metric('ddpm_checkpoint_duration_seconds_sum')}[15m])) / sum(rate(${metric('ddpm_checkpoint_duration_seconds_count')}[15m]))`,
            legend: 'mean duration',
          },
          { expr: metric('ddpm_last_checkpoint_step'), legend: 'last checkpoint step' },
        ],
      ).overrideByName('last checkpoint step', [
        { id: 'custom.axisPlacement', value: 'right' },
        { id: 'unit', value: units.Short },
      ]),
    )
    .withPanel(
      timeseries(
        'Bytes moved',
        'Bytes per second sent and received by the coordinator and each worker (1m).',
        units.BytesPerSecondIEC,
        [
          { expr: `rate(${metric('ddpm_coordinator_sent_bytes_total')}[1m])`, legend: 'coordinator sent' },
          { expr: `rate(${metric('ddpm_coordinator_received_bytes_total')}[1m])`, legend: 'coordinator received' },
          {
            expr: `sum by (worker) (rate(${metric('ddpm_worker_sent_bytes_total')}[1m]))`,
            legend: 'worker {{worker}} sent',
          },
          {
            expr: `sum by (worker) (rate(${metric('ddpm_worker_received_bytes_total')}[1m]))`,
            legend: 'worker {{worker}} received',
          },
        ],
      ),
    )
    .withPanel(
      timeseries(
        'Process CPU and memory',
        'CPU seconds per second and resident memory of every scraped ddpm process.',
        units.Short,
        [
          { expr: `rate(${metric('process_cpu_seconds_total')}[1m])`, legend: 'cpu {{job}} {{instance}}' },
          { expr: metric('process_resident_memory_bytes'), legend: 'rss {{job}} {{instance}}' },
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
        [{ expr: metric('nodejs_eventloop_lag_p99_seconds'), legend: '{{job}} {{instance}}' }],
      ),
    );
}
