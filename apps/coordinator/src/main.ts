import { coordinatorCommand } from '@ddpm/commands';
import { runCommand } from '@ddpm/runtime';

/** Entry point of the coordinator app (also reached through `ddpm coordinator`). Returns the exit code. */
export function main(argv: readonly string[]): Promise<number> {
  return runCommand(coordinatorCommand(), argv);
}
