// What the run page shows, computed from the JSON endpoints' answers. Pure (no DOM, no fetch), so the Node tests
// check it too (run-page-view.test.ts); run-page.js puts it on the page.

/** How often the page polls its JSON endpoints, in milliseconds. */
export const POLL_MS = 3000;

/** The loss chart's data for uPlot: [steps, raw loss, smoothed loss]. */
export function lossData(view) {
  return [view.step, view.loss, view.smoothed];
}

/** The FD chart's data for uPlot: [steps, fd, real-vs-real floor] (empty arrays before the first evaluation). */
export function fdData(view) {
  const points = view.points ?? [];
  return [points.map((p) => p.step), points.map((p) => p.fd), points.map((p) => p.fd_floor ?? null)];
}

/** The sentence under the FD chart. */
export function fdNote(view) {
  const points = view.points ?? [];
  if (points.length === 0) return 'no evaluation yet: pass --eval-every (and --eval-count) to evaluate during training';
  const last = points[points.length - 1];
  const ratio = Number.isFinite(last.fd_ratio) ? `, ${last.fd_ratio.toFixed(2)}× the floor` : '';
  const floor = Number.isFinite(last.fd_floor) ? ` (floor ${number(last.fd_floor)})` : '';
  const count = Number.isFinite(last.count) ? ` over ${last.count} samples` : '';
  return `step ${last.step}: Fréchet distance ${number(last.fd)}${floor}${ratio}${count}`;
}

/** The sentence under the loss chart. */
export function lossNote(view) {
  if (view.steps === 0) return view.exists ? 'no step finished yet' : 'waiting for the first step (metrics.jsonl)';
  const last = view.step.length - 1;
  const shown = view.step.length < view.steps ? ` (${view.step.length} of ${view.steps} steps drawn)` : '';
  return `step ${view.step[last]}: loss ${number(view.loss[last])}, smoothed ${number(view.smoothed[last])}${shown}`;
}

/** The header's status: step, command, backend and workers, from GET /api/state and the loss. */
export function statusLine(state, loss) {
  const live = state.live;
  const step = live?.step ?? (loss.step.length > 0 ? loss.step[loss.step.length - 1] : 0);
  const parts = [live === null || live === undefined ? `step ${step}` : `step ${step} of ${live.steps}`];
  if (live) parts.push(`ddpm ${live.command}`, live.backend, `${live.workers.length} worker(s)`);
  parts.push(state.runDirectory);
  return parts.join(' · ');
}

/** The workers table's rows: [name, state, images/s, step ms, backend]. */
export function workerRows(state) {
  const fixed = (x, digits) => (x === null || x === undefined ? '–' : x.toFixed(digits));
  return (state.live?.workers ?? []).map((w) => [
    w.name,
    w.state,
    fixed(w.imagesPerSecond, 1),
    fixed(w.stepMs, 0),
    w.backend,
  ]);
}

/** The configuration table's rows: nested objects flattened to dotted keys, values as text. */
export function configRows(config, prefix = '') {
  const rows = [];
  for (const [key, value] of Object.entries(config ?? {})) {
    const name = prefix === '' ? key : `${prefix}.${key}`;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) rows.push(...configRows(value, name));
    else rows.push([name, Array.isArray(value) ? value.join(', ') : String(value)]);
  }
  return rows;
}

/** The step a grid name was drawn at ("step-000250.png" -> "step 250"), for the caption. */
export function sampleCaption(name) {
  const digits = /(\d+)\.png$/.exec(name);
  return digits === null ? name : `step ${Number(digits[1])}`;
}

/** A number in at most 4 significant digits. */
export function number(x) {
  return Number.isFinite(x) ? Number(x.toPrecision(4)).toString() : String(x);
}
