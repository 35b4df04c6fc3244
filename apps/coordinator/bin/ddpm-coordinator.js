#!/usr/bin/env node
// The coordinator on its own (what container images run); `ddpm coordinator` is the same command.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';
import { ensureGeneratedCode } from '../../../libs/protocol/scripts/generated-code.mjs';

// After a `git pull` that changed proto/, regenerate the protocol code before anything imports it.
ensureGeneratedCode();

register({ tsconfig: fileURLToPath(new URL('../../../tsconfig.base.json', import.meta.url)) });
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv);
