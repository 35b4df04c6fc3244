import { CommanderError, type Command } from 'commander';
import { explainFsError } from '@ddpm/training';
import { watchParent } from './parent-watch.ts';

/**
 * Parses `argv` (as process.argv: node, script, args...) with `command` and runs its action.
 * Returns the process exit code instead of exiting: 0 on success (and for --help), 2 for bad flags (commander has
 * printed the problem), an error's own `exitCode` when it has one (2 for a bad --out found before any work), 1 for any
 * other failure, whose message is written to stderr as "ddpm: <message>"; errors are written to say how to fix the
 * problem (a bare ENOSPC, EROFS, EACCES or ENOTDIR is explained with its path), so no stack is shown unless
 * DDPM_DEBUG is set. In a child of `ddpm local`, it also watches the parent (see watchParent).
 */
export async function runCommand(command: Command, argv: readonly string[]): Promise<number> {
  applyToTree(command, (c) => c.exitOverride().showHelpAfterError('(run with --help for usage)'));
  watchParent((message) => process.stderr.write(`ddpm: ${message}\n`));
  try {
    await command.parseAsync([...argv]);
    return 0;
  } catch (thrown) {
    if (thrown instanceof CommanderError) return thrown.exitCode === 0 ? 0 : 2;
    const error = explainFsError(thrown) as Error & { exitCode?: unknown };
    process.stderr.write(`ddpm: ${error.message}\n`);
    if (process.env.DDPM_DEBUG) process.stderr.write(`${error.stack}\n`);
    const { exitCode } = error;
    return typeof exitCode === 'number' && Number.isInteger(exitCode) && exitCode > 0 && exitCode < 126 ? exitCode : 1;
  }
}

function applyToTree(command: Command, apply: (command: Command) => void): void {
  apply(command);
  for (const sub of command.commands) applyToTree(sub, apply);
}
