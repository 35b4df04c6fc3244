#!/usr/bin/env node
// The `ddpm` command. The sources are TypeScript, run through tsx with the workspace's path aliases,
// so the command works straight after `npm ci` with no build step.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';
import { ensureGeneratedCode } from '../../../libs/protocol/scripts/generated-code.mjs';

// After a `git pull` that changed proto/, regenerate the protocol code before anything imports it.
ensureGeneratedCode();

register({ tsconfig: fileURLToPath(new URL('../../../tsconfig.base.json', import.meta.url)) });
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv);
