import { Command, CommanderError } from 'commander';
import { benchCommand } from './commands/bench-command.ts';
import { sampleCommand } from './commands/sample-command.ts';
import { trainCommand } from './commands/train-command.ts';

/** Builds the `ddpm` command tree. Exported so tests and deploy checks parse flags through the real parser. */
export function buildProgram(): Command {
  const program = new Command('ddpm')
    .description('Distributed DDPM training: train, sample, benchmark');
  for (const command of [trainCommand(), sampleCommand(), benchCommand()]) program.addCommand(command);
  applyToTree(program, (command) => command.exitOverride().showHelpAfterError('(run with --help for usage)'));
  return program;
}

function applyToTree(command: Command, apply: (command: Command) => void): void {
  apply(command);
  for (const sub of command.commands) applyToTree(sub, apply);
}

/**
 * Runs the CLI and returns the process exit code: 0 on success, 2 for bad flags, 1 for any other failure
 * (whose message, written to stderr, says how to fix it).
 */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    process.stderr.write(`ddpm: ${(error as Error).message}\n`);
    if (process.env.DDPM_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    return 1;
  }
}
