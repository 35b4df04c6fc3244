// The liveness decision behind GET /healthz (pure: no clock, no I/O). Plain JavaScript because the metrics HTTP
// thread (metrics-http-thread.mjs) imports it and worker threads do not get the tsx loader; types in
// liveness-verdict.d.mts. Unit-tested in liveness-verdict.test.ts.
//
// A process is unhealthy when it is supposed to be making progress (`active`: the coordinator has workers
// connected) and its training loop has published no progress (a completed or skipped step, or becoming active)
// for longer than the stall timeout. The HTTP thread answers from the state the loop last published, so a hung
// loop stops publishing and turns unhealthy.

/**
 * @param {{ active: boolean, activeWorkers: number, step: number, lastProgressAtMs: number } | undefined} state
 * @param {number} nowMs
 * @param {number} stallTimeoutMs 0 turns the stall check off
 * @returns {{ healthy: boolean, status: 200 | 503, message: string }}
 */
export function livenessVerdict(state, nowMs, stallTimeoutMs) {
  if (state === undefined || stallTimeoutMs <= 0)
    return { healthy: true, status: 200, message: 'ok: the process is up (no stall check)' };
  const idleSeconds = Math.max(0, Math.round((nowMs - state.lastProgressAtMs) / 1000));
  const timeoutSeconds = Math.round(stallTimeoutMs / 1000);
  const where = state.step > 0 ? `step ${state.step}` : 'no step yet';
  const workers = state.activeWorkers === 1 ? '1 worker' : `${state.activeWorkers} workers`;
  const are = state.activeWorkers === 1 ? 'is' : 'are';
  if (!state.active) return { healthy: true, status: 200, message: `ok: no workers connected, waiting (${where})` };
  if (nowMs - state.lastProgressAtMs <= stallTimeoutMs)
    return {
      healthy: true,
      status: 200,
      message: `ok: ${where}, last progress ${idleSeconds} s ago, ${workers} connected`,
    };
  return {
    healthy: false,
    status: 503,
    message:
      `stalled: no step completed for ${idleSeconds} s (--stall-timeout ${timeoutSeconds}) while ` +
      `${workers} ${are} connected (${where}). The training loop is hung or a worker never ` +
      `answers: check the coordinator's log; restarting it resumes from the newest checkpoint.`,
  };
}
