// The evaluation child process that EvalRunner forks: TypeScript through tsx with the workspace's path aliases,
// as apps/cli/bin/ddpm.js does for the command itself.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../../../tsconfig.base.json', import.meta.url)) });
await import('./eval-process.ts');
