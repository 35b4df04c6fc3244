import { buildProgram } from '@ddpm/commands';
import { runCommand } from '@ddpm/runtime';

/** Runs the `ddpm` CLI and returns the process exit code (see runCommand). */
export function main(argv: readonly string[]): Promise<number> {
  return runCommand(buildProgram(), argv);
}
