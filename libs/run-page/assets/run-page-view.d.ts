// Types of run-page-view.js for the Node tests (the browser loads the .js file as it is).
export const POLL_MS: number;
export interface LossView {
  readonly exists?: boolean;
  readonly steps: number;
  readonly step: number[];
  readonly loss: number[];
  readonly smoothed: number[];
}
export interface EvalPoint {
  readonly step: number;
  readonly fd: number;
  readonly fd_floor?: number;
  readonly fd_ratio?: number;
  readonly count?: number;
}
export interface StateView {
  readonly runDirectory: string;
  readonly live: {
    readonly command: string;
    readonly backend: string;
    readonly step: number;
    readonly steps: number;
    readonly config: Record<string, unknown>;
    readonly workers: readonly {
      name: string;
      backend: string;
      state: string;
      imagesPerSecond: number | null;
      stepMs: number | null;
    }[];
  } | null;
}
export function lossData(view: LossView): [number[], number[], number[]];
export function fdData(view: { points?: readonly EvalPoint[] }): [number[], number[], (number | null)[]];
export function fdNote(view: { points?: readonly EvalPoint[] }): string;
export function lossNote(view: LossView): string;
export function statusLine(state: StateView, loss: LossView): string;
export function workerRows(state: StateView): string[][];
export function configRows(config: Record<string, unknown> | undefined, prefix?: string): [string, string][];
export function sampleCaption(name: string): string;
export function number(x: number): string;
