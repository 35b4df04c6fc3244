import { runCommand } from '@ddpm/runtime';
import { workerCommand } from './worker-command.ts';

/** Entry point of the worker app (also reached through `ddpm worker`). Returns the exit code. */
export function main(argv: readonly string[]): Promise<number> {
  return runCommand(workerCommand(), argv);
}
