import { CommanderError, type Command } from 'commander';

/**
 * Parses `argv` (as process.argv: node, script, args...) with `command` and runs its action.
 * Returns the process exit code instead of exiting: 0 on success (and for --help), 2 for bad flags (commander has
 * printed the problem), 1 for any other failure, whose message is written to stderr as "ddpm: <message>"; errors are
 * written to say how to fix the problem, so no stack is shown unless DDPM_DEBUG is set.
 */
export async function runCommand(command: Command, argv: readonly string[]): Promise<number> {
  applyToTree(command, (c) => c.exitOverride().showHelpAfterError('(run with --help for usage)'));
  try {
    await command.parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    process.stderr.write(`ddpm: ${(error as Error).message}\n`);
    if (process.env.DDPM_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    return 1;
  }
}

function applyToTree(command: Command, apply: (command: Command) => void): void {
  apply(command);
  for (const sub of command.commands) applyToTree(sub, apply);
}
