import * as common from '@grafana/grafana-foundation-sdk/common';
import { DashboardBuilder, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TextPanelBuilder, TextMode } from '@grafana/grafana-foundation-sdk/text';
import * as units from '@grafana/grafana-foundation-sdk/units';
import { stat, timeseries } from './dashboard-panels.ts';
import { inRun } from './dashboard-variables.ts';
import { metric } from './recording-rules.ts';

/** The newest sample grid from the run page (served on the metrics port), and a link to the page itself. */
export const SAMPLES_PANEL_HTML = [
  '<a href="${run_page}/" target="_blank" rel="noopener">',
  '  <img src="${run_page}/samples/latest.png?to=${__to}" alt="newest sample grid (is the run page URL right?)"',
  '       style="max-width: 100%; max-height: 100%; image-rendering: pixelated">',
  '</a>',
].join('\n');

/** The row 'Is it learning?': loss, sample quality, the newest samples, and the run's counters. */
export function learningRow(builder: DashboardBuilder): DashboardBuilder {
  return builder
    .withRow(new RowBuilder('Is it learning?'))
    .withPanel(
      timeseries(
        'Loss',
        'Latest global-batch loss and its bias-corrected moving average (computed in the coordinator).',
        units.NoUnit,
        [
          { expr: inRun(metric('ddpm_loss')), legend: 'loss' },
          { expr: inRun(metric('ddpm_loss_smoothed')), legend: 'smoothed' },
        ],
      ),
    )
    .withPanel(
      timeseries(
        'Sample quality (Frechet distance)',
        'Frechet distance of generated samples to real images at each evaluation (--eval-every), and the real-vs-real floor at the same sample count: the closer the two lines, the better. Empty without --eval-every.',
        units.NoUnit,
        [
          { expr: inRun(metric('ddpm_sample_fd')), legend: 'samples vs real' },
          { expr: inRun(metric('ddpm_sample_fd_floor')), legend: 'real vs real (floor)' },
        ],
        8,
      ).scaleDistribution(new common.ScaleDistributionConfigBuilder().type(common.ScaleDistribution.Log).log(10)),
    )
    .withPanel(
      new TextPanelBuilder()
        .title('Newest samples')
        .description(
          'The newest sample grid, from the run page (set the "Run page URL" variable to the coordinator metrics port as your browser reaches it). Needs Grafana with disable_sanitize_html (the compose and Kubernetes Grafana set it).',
        )
        .mode(TextMode.HTML)
        .content(SAMPLES_PANEL_HTML)
        .span(4)
        .height(8),
    )
    .withPanel(
      timeseries(
        'Learning rate',
        'Learning rate of the latest applied step.',
        units.NoUnit,
        [{ expr: inRun(metric('ddpm_learning_rate')), legend: 'learning rate' }],
        6,
      ),
    )
    .withPanel(
      timeseries(
        'Gradient global norm',
        'Global L2 norm of the averaged gradient, before clipping.',
        units.NoUnit,
        [{ expr: inRun(metric('ddpm_gradient_global_norm')), legend: 'grad norm' }],
        6,
      ),
    )
    .withPanel(
      stat(
        'FD / floor',
        'Latest Frechet distance over its real-vs-real floor: 1 is as good as real data; the issue target is 2 or less.',
        units.NoUnit,
        { expr: `${inRun(metric('ddpm_sample_fd'))} / ${inRun(metric('ddpm_sample_fd_floor'))}`, legend: 'ratio' },
        'no evaluation yet',
      ),
    )
    .withPanel(
      stat(
        'Step',
        'Optimizer steps applied so far.',
        units.Short,
        { expr: inRun(metric('ddpm_step')), legend: 'step' },
        'no step yet',
      ),
    )
    .withPanel(
      stat(
        'Epoch',
        'Current epoch, from 0.',
        units.Short,
        { expr: inRun(metric('ddpm_epoch')), legend: 'epoch' },
        'no step yet',
      ),
    )
    .withPanel(
      stat(
        'Last checkpoint step',
        'Step recorded by the latest completed checkpoint.',
        units.Short,
        { expr: `${inRun(metric('ddpm_last_checkpoint_step'))} > 0`, legend: 'step' },
        'no checkpoint yet',
      ),
    )
    .withPanel(
      stat(
        'Checkpoint age',
        'Time since the latest checkpoint completed.',
        units.Seconds,
        { expr: `time() - (${inRun(metric('ddpm_last_checkpoint_timestamp_seconds'))} > 0)`, legend: 'age' },
        'no checkpoint yet',
      ),
    )
    .withPanel(
      stat(
        'Run',
        'Preset and backend of every process of the selected run.',
        units.NoUnit,
        {
          expr: `count by (preset, role, backend) (${metric('ddpm_backend_info')} * on (job, instance) group_left (preset) ${metric('ddpm_run_info')}{run_id="$run"})`,
          legend: '{{preset}} {{role}}: {{backend}}',
        },
        'unknown',
      ).textMode(common.BigValueTextMode.Name),
    );
}
