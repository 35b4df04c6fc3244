import { fork, type ChildProcess } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlagError } from '@ddpm/runtime';
import { EvalQueue, formatEvalLine, type EvalLine } from './eval-queue.ts';
import type { EvalProcessSetup, FromEvalProcess, ToEvalProcess } from './eval-process.ts';

export interface EvalRunnerOptions extends EvalProcessSetup {
  /** The run directory: results go to OUT/eval.jsonl. */
  readonly out: string;
  readonly log: { info(message: string): void; warn(message: string): void };
  /** Each result, after its line is written (e.g. metrics.recordEvaluation). */
  readonly onResult?: (line: EvalLine) => void;
}

const ENTRY = fileURLToPath(new URL('./eval-process-entry.mjs', import.meta.url));
/** The child's niceness: the kernel gives training the CPU first when both want it. */
const NICENESS = 10;
/** In the run directory: the EMA handed to the child (see send). */
const WEIGHTS_FILE = '.eval-weights.f32';

/**
 * Sample-quality evaluation during training, off the training path: a niced child process draws the images from the
 * EMA weights and computes the Fréchet distance while training goes on; results are appended to OUT/eval.jsonl.
 * {@link submit} copies the weights and returns at once; while one evaluation runs, only the newest request waits.
 * Promises: {@link start} resolves once the child has its real-data reference (so a bad --eval-count or a missing
 * --features fails before training, as a FlagError), and {@link close} waits for what was submitted, then ends the
 * child. A failing evaluation is logged and training goes on.
 */
export class EvalRunner {
  private readonly queue = new EvalQueue<Float32Array>();
  private idle: (() => void) | undefined;
  private broken = false;

  private constructor(
    private readonly child: ChildProcess,
    private readonly options: EvalRunnerOptions,
  ) {
    child.on('message', (message: FromEvalProcess) => this.receive(message));
    child.on('exit', (code) => {
      if (!this.broken && this.queue.busy)
        options.log.warn(`evaluation process exited (code ${code}); evaluations stop`);
      this.broken = true;
      this.idle?.();
    });
  }

  static async start(options: EvalRunnerOptions): Promise<EvalRunner> {
    const { out: _out, log: _log, onResult: _onResult, ...setup } = options;
    const child = fork(ENTRY, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    try {
      if (child.pid !== undefined) setPriority(child.pid, NICENESS);
    } catch {
      // not allowed here: the child runs at normal priority
    }
    const ready = new Promise<Extract<FromEvalProcess, { kind: 'ready' }>>((resolve, reject) => {
      child.once('message', (message: FromEvalProcess) => {
        if (message.kind === 'ready') resolve(message);
        else if (message.kind === 'failed')
          reject(
            message.flag
              ? new FlagError(`--eval-every: ${message.message}`)
              : new Error(`evaluation: ${message.message}`),
          );
      });
      child.once('exit', (code) =>
        reject(new Error(`the evaluation process exited (code ${code}) before it was ready`)),
      );
    });
    child.send({ kind: 'setup', setup } satisfies ToEvalProcess);
    try {
      const message = await ready;
      options.log.info(
        `evaluation ready: ${setup.count} images per evaluation, features ${message.features}, real-vs-real floor ${message.floor.toFixed(3)}`,
      );
    } catch (error) {
      child.kill();
      throw error;
    }
    return new EvalRunner(child, options);
  }

  /** Asks for an evaluation of `ema` (copied) after `step` steps; returns at once. */
  submit(step: number, ema: Float32Array): void {
    if (this.broken) return;
    const copy = ema.slice();
    if (this.queue.submit(step, copy) === 'run') this.send(step, copy);
    const dropped = this.queue.dropped.splice(0);
    for (const old of dropped)
      this.options.log.warn(`evaluation of step ${old} dropped: a newer one waits (raise --eval-every)`);
  }

  /**
   * Ends the child: with `wait` (a finished run) after the running and waiting evaluations, without it (a stopped or
   * failed run) at once, dropping them.
   */
  async close(wait = true): Promise<void> {
    if (!wait && this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill();
      await exited;
      return;
    }
    if (this.queue.busy && !this.broken) {
      this.options.log.info('waiting for the last evaluation to finish');
      await new Promise<void>((resolve) => (this.idle = resolve));
    }
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.connected) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.disconnect();
      await exited;
    }
  }

  /**
   * Hands the weights over through a file, not the IPC pipe: the pipe is only drained while this process's event loop
   * turns, which a training step blocks for seconds, so megabytes sent that way reached the child a few kilobytes per
   * step. The message itself is a few bytes. At most one evaluation runs at a time, so one file suffices.
   */
  private send(step: number, ema: Float32Array): void {
    const weights = join(this.options.out, WEIGHTS_FILE);
    try {
      writeFileSync(weights, new Uint8Array(ema.buffer, ema.byteOffset, ema.byteLength));
    } catch (error) {
      this.options.log.warn(
        `evaluation of step ${step} skipped: cannot write ${weights} (${(error as Error).message}); free space in --out`,
      );
      const next = this.queue.finished();
      if (next !== undefined) this.send(next.step, next.item);
      else this.idle?.();
      return;
    }
    this.child.send({ kind: 'evaluate', step, weights } satisfies ToEvalProcess);
  }

  private receive(message: FromEvalProcess): void {
    if (message.kind === 'result') {
      const report = message.report as unknown as Omit<EvalLine, 'step' | 'seconds' | 'time'>;
      const line: EvalLine = {
        ...report,
        step: message.step,
        seconds: Math.round(message.seconds * 10) / 10,
        time: new Date().toISOString(),
      };
      appendFileSync(join(this.options.out, 'eval.jsonl'), formatEvalLine(line));
      this.options.log.info(
        `step ${line.step}: FD ${line.fd.toFixed(3)} (floor ${line.fd_floor.toFixed(3)}, ${line.seconds} s)`,
      );
      this.options.onResult?.(line);
    } else if (message.kind === 'failed') {
      this.options.log.warn(`evaluation of step ${message.step ?? '?'} failed: ${message.message}`);
    } else return;
    const next = this.queue.finished();
    if (next !== undefined) this.send(next.step, next.item);
    else this.idle?.();
  }
}
