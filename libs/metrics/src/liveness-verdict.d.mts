/** What the training loop last published for GET /healthz (see track-progress.ts). */
export interface LivenessState {
  /** True while the process is supposed to make progress (the coordinator: workers are connected). */
  readonly active: boolean;
  /** Connected workers, for the message. */
  readonly activeWorkers: number;
  /** The newest completed step (0: none yet), for the message. */
  readonly step: number;
  /** Date.now() of the last progress: a completed or skipped step, or becoming active. */
  readonly lastProgressAtMs: number;
}

/** The answer of GET /healthz: 200 when healthy, 503 with what stalled and what to do otherwise. */
export interface LivenessVerdict {
  readonly healthy: boolean;
  readonly status: 200 | 503;
  readonly message: string;
}

/**
 * Unhealthy when `state.active` and no progress was published for more than `stallTimeoutMs` before `nowMs`.
 * Healthy when no state was published yet, when inactive, or when `stallTimeoutMs` is 0 (check off).
 */
export function livenessVerdict(
  state: LivenessState | undefined,
  nowMs: number,
  stallTimeoutMs: number,
): LivenessVerdict;
