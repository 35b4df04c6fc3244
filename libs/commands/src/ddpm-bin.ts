import { fileURLToPath } from 'node:url';

/** The `ddpm` executable, for commands that start more of themselves as child processes (local, bench allreduce). */
export const DDPM_BIN = fileURLToPath(new URL('../../../apps/cli/bin/ddpm.js', import.meta.url));
