import { workerCommand } from '@ddpm/commands';
import { runCommand } from '@ddpm/runtime';

/** Entry point of the worker app (also reached through `ddpm worker`). Returns the exit code. */
export function main(argv: readonly string[]): Promise<number> {
  return runCommand(workerCommand(), argv);
}
