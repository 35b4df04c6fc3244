import type { Command } from 'commander';

/** A `ddpm` subcommand implemented by another app of the workspace. */
interface AppCommand {
  /** Path of the module, relative to this file. */
  readonly module: string;
  /** Name of the exported factory returning the commander Command. */
  readonly factory: string;
}

/**
 * The subcommands that live in the coordinator and worker apps. Nx forbids one app importing another, so the CLI
 * loads them at run time by path; main.test.ts checks that every entry loads and yields a command.
 */
export const APP_COMMANDS: readonly AppCommand[] = [
  { module: '../../coordinator/src/coordinator-command.ts', factory: 'coordinatorCommand' },
  { module: '../../worker/src/worker-command.ts', factory: 'workerCommand' },
  { module: '../../coordinator/src/keygen-command.ts', factory: 'keygenCommand' },
];

/** Loads the app subcommands. */
export async function loadAppCommands(): Promise<Command[]> {
  return Promise.all(
    APP_COMMANDS.map(async ({ module, factory }) => {
      const loaded = (await import(new URL(module, import.meta.url).href)) as Record<string, unknown>;
      const make = loaded[factory];
      if (typeof make !== 'function')
        throw new Error(`${module} does not export ${factory}(); fix APP_COMMANDS in apps/cli/src/app-commands.ts.`);
      return (make as () => Command)();
    }),
  );
}
