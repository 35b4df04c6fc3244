export const LOSS_SMOOTHING: number;
/** Every stride-th index of a series of `length` points, always ending with the last one; at most `max` points. */
export function decimatedIndices(length: number, max: number): number[];

export interface LossView {
  /** Points kept (every finite, applied step read so far). */
  readonly steps: number;
  readonly step: number[];
  readonly loss: number[];
  readonly smoothed: number[];
}

export class LossSeries {
  add(records: readonly Record<string, unknown>[]): void;
  clear(): void;
  readonly length: number;
  view(maxPoints: number): LossView;
}

export class EvalSeries {
  constructor(max?: number);
  readonly max: number;
  add(records: readonly Record<string, unknown>[]): void;
  clear(): void;
  view(): { evaluations: number; points: Record<string, unknown>[] };
}
