import { Command } from 'commander';
import { benchConvGradients, selectBackend, type BackendRequest, type WebGpuAdapterSummary } from '@ddpm/backend';
import { benchTrainingStep } from '@ddpm/training';
import { benchAllreduce } from './bench-allreduce.ts';
import { benchAllreduceSoak } from './bench-allreduce-soak.ts';
import { addClusterBench } from './bench-cluster-command.ts';
import { addSimulatedStepOptions, type SimulatedStepFlags } from './simulated-step-options.ts';
import { PRESET_NAMES } from '@ddpm/unet';
import { addBackendOption, addFlagRules, createLogger, integer, oneOf } from '@ddpm/runtime';
import { COMMAND_RULES } from './command-rules.ts';

interface StepFlags {
  preset: string;
  batch: number;
  backend: BackendRequest;
  warmup: number;
  repeats: number;
}

/** `ddpm bench ...`: benchmarks that print one JSON object per line on stdout (logs go to stderr). */
export function benchCommand(): Command {
  const bench = new Command('bench').description('benchmarks; each prints JSON lines on stdout');
  addBackendOption(bench.command('step'))
    .description('time whole training steps (noising, forward, backward, Adam) and print the median')
    .option('--preset <name>', `model preset: ${PRESET_NAMES.join(', ')}`, oneOf(PRESET_NAMES), 'mnist-bench')
    .option('--batch <n>', 'images per step', integer(1, 65536), 32)
    .option('--warmup <n>', 'untimed steps first', integer(0), 2)
    .option('--repeats <n>', 'timed steps (the median is reported)', integer(1), 5)
    .action(async (flags: StepFlags) => {
      const log = createLogger('bench');
      const backend = await selectBackend(flags.backend, (line) => log.info(line));
      const result = await benchTrainingStep({
        preset: flags.preset,
        batch: flags.batch,
        warmup: flags.warmup,
        repeats: flags.repeats,
      });
      const { params, msPerStep } = result;
      const line = {
        bench: 'step',
        preset: flags.preset,
        backend: backend.name,
        batch: flags.batch,
        params,
        ms_per_step: round(msPerStep),
        imgs_per_s: round((1000 * flags.batch) / msPerStep),
        ...(backend.adapter === undefined ? {} : { adapter: adapterField(backend.adapter) }),
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    });
  addBackendOption(bench.command('conv'))
    .description("time the U-Net's convolutions (forward, input gradient, filter gradient) and print GFLOP/s per case")
    .action(async (flags: { backend: BackendRequest }) => {
      const log = createLogger('bench');
      const backend = await selectBackend(flags.backend, (line) => log.info(line));
      for (const record of await benchConvGradients()) {
        process.stdout.write(`${JSON.stringify({ bench: 'conv', backend: backend.name, ...record })}\n`);
      }
    });
  const allreduce = bench.command('allreduce');
  addFlagRules(allreduce, COMMAND_RULES.benchAllreduce);
  addSimulatedStepOptions(allreduce, 25);
  allreduce
    .description(
      'time synchronous steps through the real coordinator with N worker processes whose compute is a fixed sleep',
    )
    .option(
      '--kill-every <n>',
      'soak: kill a worker with SIGKILL and restart it every n steps; report coordinator RSS, errors, step percentiles',
      integer(0),
      0,
    )
    .action(async (flags: SimulatedStepFlags & { killEvery: number }) => {
      const result = flags.killEvery > 0 ? await benchAllreduceSoak(flags) : await benchAllreduce(flags);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    });
  addClusterBench(bench);
  return bench;
}

/** The WebGPU adapter a step ran on, for comparing figures across machines. */
function adapterField(adapter: WebGpuAdapterSummary): { vendor: string; architecture: string; fallback: boolean } {
  return { vendor: adapter.vendor, architecture: adapter.architecture, fallback: adapter.fallback };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
