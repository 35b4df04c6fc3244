import {
  DashboardBuilder,
  MappingType,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as StateTimelinePanelBuilder } from '@grafana/grafana-foundation-sdk/statetimeline';
import * as units from '@grafana/grafana-foundation-sdk/units';
import { targets, timeseries, type Query } from './dashboard-panels.ts';
import { datasource, inRecentRun, inRun, RATE_INTERVAL } from './dashboard-variables.ts';
import { metric, rule } from './recording-rules.ts';

/** A state timeline with one lane per series: green at `okValue`, red at the other of 0 and 1. */
function lanes(title: string, description: string, query: Query, okValue: 0 | 1, ok: string, bad: string) {
  const badValue = 1 - okValue;
  return new StateTimelinePanelBuilder()
    .title(title)
    .description(description)
    .datasource(datasource)
    .targets(targets([query]))
    .span(12)
    .height(8)
    .mappings([
      {
        type: MappingType.ValueToText,
        options: {
          [String(okValue)]: { text: ok, color: 'green', index: 0 },
          [String(badValue)]: { text: bad, color: 'red', index: 1 },
        },
      },
    ])
    .thresholds(
      new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
        { value: null, color: okValue === 0 ? 'green' : 'red' },
        { value: 1, color: okValue === 0 ? 'red' : 'green' },
      ]),
    );
}

/** The row 'Which worker is slow or gone?'. */
export function workersRow(builder: DashboardBuilder): DashboardBuilder {
  const worker = '{worker=~"$worker"}';
  return builder
    .withRow(new RowBuilder('Which worker is slow or gone?'))
    .withPanel(
      timeseries(
        'Images/s per worker',
        'One lane per selected worker: local batch / step time of its latest step, and its 5m average.',
        units.Short,
        [
          {
            expr: `max by (worker) (${inRun(`${metric('ddpm_worker_images_per_second')}${worker}`)})`,
            legend: '{{worker}} latest',
          },
          {
            expr: `${rule('run_worker:ddpm_worker_images:rate5m')}{run_id="$run", worker=~"$worker"}`,
            legend: '{{worker}} 5m average',
          },
        ],
      ),
    )
    .withPanel(
      lanes(
        'Stragglers',
        'Per worker: red while the coordinator marks it a straggler.',
        { expr: `max by (worker) (${inRun(`${metric('ddpm_worker_straggler')}${worker}`)})`, legend: '{{worker}}' },
        0,
        'ok',
        'straggler',
      ),
    )
    .withPanel(
      timeseries(
        'Failures, membership and skipped steps',
        'Events per $__rate_interval: worker failures by reason, joins, leaves, and steps skipped for non-finite values.',
        units.Short,
        [
          {
            expr: `sum by (worker, reason) (${inRun(`increase(${metric('ddpm_worker_failures_total')}${worker}[${RATE_INTERVAL}])`)})`,
            legend: 'failure {{worker}} {{reason}}',
          },
          {
            expr: `sum(${inRun(`increase(${metric('ddpm_worker_joins_total')}[${RATE_INTERVAL}])`)})`,
            legend: 'joins',
          },
          {
            expr: `sum(${inRun(`increase(${metric('ddpm_worker_leaves_total')}${worker}[${RATE_INTERVAL}])`)})`,
            legend: 'leaves',
          },
          {
            expr: `sum by (reason) (${inRun(`increase(${metric('ddpm_skipped_steps_total')}[${RATE_INTERVAL}])`)})`,
            legend: 'skipped {{reason}}',
          },
        ],
      ),
    )
    .withPanel(
      timeseries('Active workers', 'Workers taking part in synchronous steps.', units.Short, [
        { expr: inRun(metric('ddpm_active_workers')), legend: 'active workers' },
      ]),
    )
    .withPanel(
      lanes(
        'Targets up',
        "Prometheus's `up` for every process of the run (seen in the last hour): red while a scrape fails.",
        { expr: inRecentRun('up'), legend: '{{job}} {{instance}}' },
        1,
        'up',
        'down',
      ),
    )
    .withPanel(
      timeseries(
        'tfjs memory per worker',
        'Tensors (left) and tensor bytes (right) each selected worker holds after its latest step; a steady rise is a leak.',
        units.Short,
        [
          { expr: inRun(`${metric('ddpm_worker_tfjs_tensors')}${worker}`), legend: 'tensors {{worker}}' },
          { expr: inRun(`${metric('ddpm_worker_tfjs_memory_bytes')}${worker}`), legend: 'bytes {{worker}}' },
        ],
      ).overrideByRegexp('^bytes .*', [
        { id: 'custom.axisPlacement', value: 'right' },
        { id: 'unit', value: units.BytesIEC },
      ]),
    );
}
