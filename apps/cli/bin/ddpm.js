#!/usr/bin/env node
// The `ddpm` command. The sources are TypeScript, run through tsx with the workspace's path aliases,
// so the command works straight after `npm ci` with no build step.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../../../tsconfig.base.json', import.meta.url)) });
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv);
