import type { Logger } from 'pino';
import type { CoordinatorMetrics } from '@ddpm/metrics';
import type { Dataset } from '@ddpm/data';
import { ErrorCode, ProtocolError, type DecodedMessage } from '@ddpm/protocol';
import { Actions, type CoordinatorAction } from './actions.ts';
import { admit, strangerError } from './admission.ts';
import { CheckpointSchedule } from './checkpoint-schedule.ts';
import { StepBoundaries } from './step-boundaries.ts';
import { judgeHello } from './hello-verdict.ts';
import { Membership, type Member } from './membership.ts';
import { errorMessage, heartbeatMessage } from './messages.ts';
import { openRun, type RunState, type RunStateOptions } from './run-state.ts';
import { noteHandOff, StepDeadline, type StepTimeoutSetting } from './step-deadline.ts';
import { StepMachine } from './step-machine.ts';
import { StragglerDetector } from './straggler-detector.ts';

/** What the engine decides with; the run itself (config, limits, heartbeats, buckets, wire dtype, resume) as openRun takes it. */
export interface EngineOptions extends RunStateOptions {
  /** Steps wait until this many workers are connected. */
  readonly minWorkers: number;
  /** Further workers are refused (RESOURCE_EXHAUSTED); also bounds the workers waiting to join. */
  readonly maxWorkers: number;
  readonly log: Logger;
  readonly metrics?: CoordinatorMetrics;
  /** Straggler reporting: factor over the other workers' median step time, and whether to drop flagged workers. */
  readonly straggler: { readonly factor: number; readonly exclude: boolean };
  /** The step deadline (StepStart.timeout_ms): 'auto' (default, see StepDeadline) or seconds, 0 for none. */
  readonly stepTimeout?: StepTimeoutSetting;
  /** Ask for a sample-quality evaluation every this many steps and at the end (0 or absent: never). */
  readonly evalEvery?: number;
}

/**
 * The coordinator's decisions, without sockets or files: which workers take part, when steps start and end, what each
 * worker is sent. Every input (a decoded message, a tick, a stop) returns the actions to carry out, in order.
 *
 * Promises: every replica holds the coordinator's parameters after each step (checked by CRC-32 on both sides); a
 * worker silent for heartbeatTimeoutMs is dropped and the step completes with the others, its indices going back to
 * the data order; a step with a non-finite gradient is skipped for everyone; a malformed, replayed, foreign or
 * unexpected message is answered with an Error and changes nothing; checkpoints are asked for every N steps or S
 * seconds, at the end and on stop, and resuming from one continues with bitwise-identical steps.
 * Does not: encode, send, write files or keep time itself (see CoordinatorServer and RunLifecycle).
 */
export class CoordinatorEngine {
  readonly state: RunState;
  readonly members: Membership;
  /** Each worker's recent step time and straggler flag (read-only use outside the engine: the run page). */
  readonly stragglers: StragglerDetector;
  private readonly steps: StepMachine;
  private readonly boundaries: StepBoundaries;
  private readonly deadline: StepDeadline;
  private readonly now: () => number;
  private lastTickMs: number;

  constructor(
    private readonly options: EngineOptions,
    private readonly dataset: Dataset,
  ) {
    this.now = options.now ?? (() => performance.now());
    this.state = openRun(options, dataset);
    this.members = new Membership(this.state.firstWorkerId);
    const stragglers = (this.stragglers = new StragglerDetector(options.straggler.factor));
    const { optimizer, order, description, resumed } = this.state;
    options.metrics?.setRun({ runId: description.runId, preset: description.run.preset });
    const deadline = (this.deadline = new StepDeadline(options.stepTimeout ?? 'auto', options.heartbeatTimeoutMs));
    const context = { description, optimizer, order, dataset, stragglers, log: options.log };
    const timeoutFor = (id: number): number => deadline.timeoutMs(id);
    this.steps = new StepMachine(
      { ...context, metrics: options.metrics, now: this.now, active: () => this.members.active(), timeoutFor },
      resumed,
    );
    const schedule = new CheckpointSchedule(options.checkpoints, this.now());
    const parts = [this.state, this.members, this.steps, stragglers, schedule, deadline] as const;
    this.boundaries = new StepBoundaries(options, ...parts, this.now);
    this.lastTickMs = this.now();
  }

  get step(): number {
    return this.steps.step;
  }
  get skippedSteps(): number {
    return this.steps.skippedSteps;
  }
  get finalLoss(): number {
    return this.steps.finalLoss;
  }
  /** Set once the run reached --steps or was stopped: the engine then ignores further input. */
  get done(): 'finished' | 'stopped' | undefined {
    return this.boundaries.done;
  }

  /** The current parameters and EMA (settled); valid until the next input. */
  weights(): { params: Float32Array; ema: Float32Array } {
    return this.boundaries.weights();
  }

  /** The run begins: nothing to do when it already has --steps steps, otherwise wait for workers (logged unless `quiet`). */
  begin(quiet = false): CoordinatorAction[] {
    const { steps } = this.options.run;
    if (this.step >= steps) {
      const why = `the run already has ${this.step} steps (--steps ${steps}); nothing to train. Raise --steps to continue it.`;
      this.options.log.info({ step: this.step, steps }, why);
      this.boundaries.done = 'finished';
      return [{ kind: 'finished' }];
    }
    if (!quiet) this.boundaries.logWaiting();
    return [];
  }

  /** A message that failed to decode: answered, nothing changes. */
  malformed(identity: Buffer, error: ProtocolError): CoordinatorAction[] {
    this.options.log.debug({ code: error.codeName, reason: error.message }, 'rejected a malformed message');
    return [{ kind: 'reply', identity, message: errorMessage(error) }];
  }

  /** A decoded message from connection `identity`. */
  receive(identity: Buffer, message: DecodedMessage): CoordinatorAction[] {
    const out = new Actions();
    if (this.done !== undefined) return out.list;
    if (message.kind === 'hello') {
      this.hello(identity, message, out);
      return out.list;
    }
    const { sequence } = message.envelope;
    const member = this.members.byIdentity(identity);
    if (member === undefined) {
      if (message.kind !== 'error')
        out.push({
          kind: 'reply',
          identity,
          message: errorMessage(strangerError(message, this.state.description.runId), sequence),
        });
      return out.list;
    }
    const admission = admit(member, message, this.state.description.runId);
    if (!admission.accepted) {
      if (message.kind !== 'error') out.send(member, errorMessage(admission.error, sequence), this.now());
      return out.list;
    }
    if (admission.lost > 0) {
      const figures = { worker: member.name, sequence: member.lastSequence, lost: admission.lost };
      this.options.log.warn(figures, 'sequence gap: messages from this worker were lost');
    }
    member.lastSeenMs = this.now();
    this.dispatch(member, message, out);
    return out.list;
  }

  /** Heartbeats: drops workers silent for longer than the timeout and sends a Heartbeat to those not sent anything lately. */
  tick(tickMs: number): CoordinatorAction[] {
    const out = new Actions();
    if (this.done !== undefined) return out.list;
    const now = this.now();
    // A tick that fires late means this process was blocked; what workers sent meanwhile may still sit in ZeroMQ.
    if (now - this.lastTickMs > 2 * tickMs + 50) this.forgive();
    this.lastTickMs = now;
    const { heartbeatIntervalMs, heartbeatTimeoutMs } = this.options;
    for (const member of this.members.all()) {
      const silentMs = now - member.lastSeenMs;
      if (silentMs <= heartbeatTimeoutMs) continue;
      const why = `worker ${member.name} silent for ${(silentMs / 1000).toFixed(1)} s (--heartbeat-timeout ${heartbeatTimeoutMs / 1000} s); dropped`;
      this.options.log.warn({ worker: member.name, silentMs }, why);
      this.boundaries.drop(member, 'timeout', out);
    }
    this.boundaries.dropOverdue(out);
    const waiting = this.steps.current !== undefined;
    for (const member of this.members.all()) {
      if (now - member.lastSentMs >= heartbeatIntervalMs) out.send(member, heartbeatMessage(this.step, waiting), now);
    }
    return out.list;
  }

  /**
   * Stops the run (SIGTERM/SIGINT): a checkpoint of the last step boundary (a step in progress is abandoned; resuming
   * repeats it exactly), then SHUTTING_DOWN to every worker (they reconnect to a successor). Safe to call twice.
   */
  stop(signal: string): CoordinatorAction[] {
    const out = new Actions();
    if (this.done !== undefined) return out.list;
    if (this.options.checkpoints !== undefined)
      for (const action of this.boundaries.stopCheckpoint(signal)) out.push(action);
    const text = `the coordinator is stopping (${signal}) at step ${this.step}; keep the worker running: it reconnects when the coordinator is restarted with --resume latest.`;
    const error = errorMessage(new ProtocolError(ErrorCode.SHUTTING_DOWN, text, { step: this.step }));
    for (const member of this.members.all()) out.send(member, error, this.now());
    out.push({ kind: 'drain' });
    out.push({ kind: 'stopped', signal });
    this.boundaries.done = 'stopped';
    return out.list;
  }

  /**
   * The shell was blocked (a checkpoint write, a sample grid): messages still queued must not look like silence, nor
   * the blocked time like a missed step deadline (the step's deadlines count again from now).
   */
  forgive(): void {
    this.members.forgive(this.now());
    if (this.steps.current !== undefined) this.steps.current.deadlinesFromMs = this.now();
  }

  private dispatch(member: Member, message: DecodedMessage, out: Actions): void {
    const { log } = this.options;
    switch (message.kind) {
      case 'gradient': {
        const verdict = this.steps.gradient(member, this.state.description.innerStates?.take(message) ?? message, out);
        if (verdict === 'stale') this.boundaries.resynchronise(member, out);
        if (verdict === 'complete') this.boundaries.complete(out);
        return;
      }
      case 'reducedGradient': {
        const verdict = this.steps.reduced(member, message, out);
        if (verdict.stale !== undefined) {
          const stale = this.members.get(verdict.stale);
          if (stale !== undefined) this.boundaries.resynchronise(stale, out);
        }
        if (verdict.complete) this.boundaries.complete(out);
        return;
      }
      case 'heartbeat': {
        const ms = noteHandOff(this.steps.current, member.id, message.body, this.now());
        if (ms !== undefined) this.stragglers.record(member.id, ms);
        return;
      }
      case 'leave':
        log.info(
          { worker: member.name, reason: message.body.reason },
          `worker ${member.name} left (${message.body.reason || 'no reason given'})`,
        );
        return this.boundaries.drop(member, 'left', out);
      case 'error':
        if (message.body.code === ErrorCode.STALE_STATE) {
          log.warn(
            { worker: member.name, reason: message.body.message },
            `worker ${member.name} reports stale parameters; it gets the current state at the next step boundary`,
          );
          return this.boundaries.resynchronise(member, out);
        }
        log.warn(
          { worker: member.name, code: message.body.code, reason: message.body.message },
          'worker reported an error',
        );
        if (message.body.fatal) this.boundaries.drop(member, 'error', out);
        return;
      default: {
        const error = new ProtocolError(
          ErrorCode.UNEXPECTED_MESSAGE,
          `a coordinator does not accept ${message.kind} messages from workers.`,
        );
        out.send(member, errorMessage(error, message.envelope.sequence), this.now());
      }
    }
  }

  private hello(identity: Buffer, message: Extract<DecodedMessage, { kind: 'hello' }>, out: Actions): void {
    const { runId } = this.state.description;
    const { maxWorkers, heartbeatIntervalMs, log, metrics } = this.options;
    const context = {
      runId,
      fingerprint: this.state.fingerprint,
      maxWorkers,
      heartbeatIntervalMs,
      members: this.members,
      nowMs: this.now(),
      topology: this.state.description.topology,
    };
    const verdict = judgeHello(message.body, identity, context);
    if (verdict.kind === 'refuse') {
      // A ROUTER gives no peer address (zeromq.js exposes no message metadata), so the log names the claimed worker.
      const refused = { reason: 'hello_refused', worker: message.body.workerName.slice(0, 64), peer: 'unavailable' };
      log.warn(refused, `refused a Hello: ${verdict.error.message}`);
      metrics?.handshakeRefused('hello_refused');
      out.push({ kind: 'reply', identity, message: errorMessage(verdict.error, message.envelope.sequence) });
      return;
    }
    if (verdict.kind === 'resynchronise') {
      verdict.member.lastSeenMs = this.now();
      verdict.member.lastSequence = message.envelope.sequence;
      if (verdict.member.state === 'active') this.boundaries.resynchronise(verdict.member, out);
      return;
    }
    if (verdict.replaces !== undefined) {
      log.info(
        { worker: verdict.replaces.name },
        `worker ${verdict.replaces.name} reconnected on a new connection; replacing its old one`,
      );
      this.boundaries.drop(verdict.replaces, 'disconnected', out);
    }
    const { name, hasDataset } = verdict;
    const { peerEndpoint, curvePublicKey } = message.body;
    const peer = peerEndpoint === '' ? undefined : { endpoint: peerEndpoint, curvePublicKey };
    const fields = { name, backend: message.body.backend, hasDataset, sequence: message.envelope.sequence, peer };
    const member = this.members.add(identity, fields, this.now());
    const figures = {
      worker: member.name,
      id: member.id,
      backend: member.backend,
      hasDataset,
      rejoin: message.body.resume != null,
    };
    if (figures.rejoin) this.deadline.markSeasoned(member.id); // it holds a replica: no model to build
    log.info(figures, `worker ${member.name} registered (id ${member.id}); it joins at the next step boundary`);
    metrics?.workerJoined(member.name);
    if (this.steps.current === undefined) this.boundaries.next(out);
  }
}
