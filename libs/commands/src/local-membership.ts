/**
 * The membership flags `ddpm local` hands its coordinator for `workers` worker processes: steps wait for all of them
 * (--min-workers), and --max-workers is the coordinator's default 64 or, for more workers (up to 256), their number,
 * so the coordinator's rule --min-workers <= --max-workers always holds.
 */
export function localMembershipArgs(workers: number): string[] {
  return ['--min-workers', String(workers), '--max-workers', String(Math.max(64, workers))];
}
