import { Command } from 'commander';
import { selectBackend, type BackendRequest } from '@ddpm/backend';
import { InProcessRun, ModelGradients } from '@ddpm/cluster';
import type { EvalRunner } from '@ddpm/evaluation';
import { createCoordinatorMetrics, createRegistry } from '@ddpm/metrics';
import { protocolLimits } from '@ddpm/protocol';
import {
  addBackendOption,
  addCheckpointOptions,
  addFlagRules,
  addMetricsOptions,
  addRunOptions,
  createLogger,
  createProgress,
  runConfigFromFlags,
  startMetrics,
  type CheckpointFlags,
  type MetricsFlags,
  type RunFlags,
} from '@ddpm/runtime';
import { COMMAND_RULES } from './command-rules.ts';
import { addEvalOptions, startEvaluation, type EvalFlags } from './eval-options.ts';
import { claimRunDirectory, loadRunDataset, openCheckpoints, stoppableBy, summaryLine } from './run-setup.ts';
import { RunPagePublisher } from './run-page-publisher.ts';

type TrainFlags = RunFlags & CheckpointFlags & MetricsFlags & EvalFlags & { backend: BackendRequest };

/**
 * `ddpm train`: the coordinator's run with one worker in this process and no sockets (InProcessRun), so it leaves the
 * same run directory, checkpoints and metrics as `ddpm local`, and resumes bitwise with --resume latest.
 */
export function trainCommand(): Command {
  const command = new Command('train').description('train a DDPM in this process (one worker, no sockets)');
  addRunOptions(command, { out: 'runs/train', batchHelp: 'images per step' });
  addBackendOption(command);
  addCheckpointOptions(command);
  addMetricsOptions(command, 9400);
  addEvalOptions(command);
  addFlagRules(command, COMMAND_RULES.train);
  return command.action(async (flags: TrainFlags) => {
    const log = createLogger('train');
    const lock = claimRunDirectory(flags, 'train', log);
    const backend = await selectBackend(flags.backend, (line) => log.info(line));
    const metrics = createCoordinatorMetrics(createRegistry(), { backend: backend.name });
    const server = await startMetrics(metrics.registry, flags, log, { runDirectory: flags.out });
    let page: RunPagePublisher | undefined;
    let evaluation: EvalRunner | undefined;
    let finished = false;
    try {
      const runConfig = runConfigFromFlags(flags);
      evaluation = await startEvaluation(flags, runConfig, log, metrics);
      const dataset = await loadRunDataset(flags);
      const { store, resume, policy } = openCheckpoints(flags, log);
      log.info({ dataset: dataset.name, count: dataset.count, backend: backend.name }, 'training starts');
      const progress = createProgress(flags.steps);
      const run = new InProcessRun(
        {
          ...{ run: runConfig, limits: protocolLimits(), log, metrics, store, resume },
          ...{ checkpoints: policy, source: new ModelGradients(dataset) },
          ...{ evalEvery: flags.evalEvery, evaluation },
          onStep: (r) => {
            progress.update({ step: r.step, loss: r.loss, imgsPerS: r.imgs_per_s });
            page?.note();
          },
          onSampleGrid: (path, step) => progress.note(`step ${step}: sample grid ${path}`),
        },
        dataset,
      );
      const config = { command: 'train', ...runConfigFromFlags(flags), data: flags.data, backend: backend.name };
      const source = { command: 'train', backend: backend.name, steps: flags.steps, batch: flags.batch, config };
      page = new RunPagePublisher(server, { ...source, engine: run.engine });
      const stop = (signal: NodeJS.Signals): void => {
        log.warn(`${signal}: writing a checkpoint and stopping; continue with --resume latest`);
        run.stop(signal);
      };
      const summary = await stoppableBy(stop, () => run.train());
      finished = summary.stopped === undefined;
      progress.stop();
      process.stdout.write(summaryLine(summary, flags.batch));
    } finally {
      page?.stop();
      // A finished run waits for its last evaluation; a stopped or failed one ends it at once.
      await evaluation?.close(finished);
      await server?.close();
      lock.release();
    }
  });
}
