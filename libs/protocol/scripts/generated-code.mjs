// Whether the generated protocol code (libs/protocol/src/generated) is older than what it is generated from: the
// .proto files under proto/ddpm/v1 and generate.mjs. Shared by generate.mjs and the command-line entry points.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WORKSPACE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const GENERATE = join('libs', 'protocol', 'scripts', 'generate.mjs');

/** The generated files, the .proto sources and the generator, under the workspace `root`. */
export function generatedCodePaths(root = WORKSPACE) {
  const protoDir = join(root, 'proto', 'ddpm', 'v1');
  const protos = existsSync(protoDir)
    ? readdirSync(protoDir)
        .filter((name) => name.endsWith('.proto'))
        .sort()
        .map((name) => join(protoDir, name))
    : [];
  const outputs = ['ddpm.js', 'ddpm.d.ts'].map((name) => join(root, 'libs', 'protocol', 'src', 'generated', name));
  return { protos, outputs, generator: join(root, GENERATE) };
}

/** True when a generated file is missing or older than a .proto file or the generator (e.g. after a `git pull`). */
export function generatedCodeIsStale(root = WORKSPACE) {
  const { protos, outputs, generator } = generatedCodePaths(root);
  if (!outputs.every((file) => existsSync(file))) return true;
  const oldestOutput = Math.min(...outputs.map((file) => statSync(file).mtimeMs));
  const newestInput = Math.max(...[...protos, generator].map((file) => statSync(file).mtimeMs));
  return oldestOutput <= newestInput;
}

/**
 * Regenerates the protocol code (generate.mjs, in a child process, output on stderr) when it is stale, so that an
 * entry point never runs on code older than proto/. Throws saying what to run when that fails.
 */
export function ensureGeneratedCode(root = WORKSPACE) {
  if (!generatedCodeIsStale(root)) return;
  const result = spawnSync(process.execPath, [join(root, GENERATE)], { stdio: ['ignore', 2, 2] });
  if (result.status !== 0)
    throw new Error(
      `the protocol code in libs/protocol/src/generated is older than proto/ and regenerating it failed; run \`node ${GENERATE}\` (or npm ci) and retry.`,
    );
}
