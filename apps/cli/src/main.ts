import { Command } from 'commander';
import { runCommand } from '@ddpm/runtime';
import { loadAppCommands } from './app-commands.ts';
import { benchCommand } from './commands/bench-command.ts';
import { localCommand } from './commands/local-command.ts';
import { sampleCommand } from './commands/sample-command.ts';
import { trainCommand } from './commands/train-command.ts';

/** Builds the whole `ddpm` command tree. Exported so tests and deploy checks parse flags through the real parser. */
export async function buildProgram(): Promise<Command> {
  const program = new Command('ddpm').description('Distributed DDPM training: train, run a cluster, sample, benchmark');
  for (const command of [trainCommand(), localCommand(), ...(await loadAppCommands()), sampleCommand(), benchCommand()])
    program.addCommand(command);
  return program;
}

/** Runs the CLI and returns the process exit code (see runCommand). */
export async function main(argv: readonly string[]): Promise<number> {
  return runCommand(await buildProgram(), argv);
}
