import { runCommand } from '@ddpm/runtime';
import { coordinatorCommand } from './coordinator-command.ts';

/** Entry point of the coordinator app (also reached through `ddpm coordinator`). Returns the exit code. */
export function main(argv: readonly string[]): Promise<number> {
  return runCommand(coordinatorCommand(), argv);
}
