import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error: a plain .mjs script without type declarations
import { generatedCodeIsStale, generatedCodePaths } from '../scripts/generated-code.mjs';

const stale = generatedCodeIsStale as (root: string) => boolean;
const paths = generatedCodePaths as (root: string) => { protos: string[]; outputs: string[]; generator: string };

test('the generated code is stale when missing or older than a .proto file or the generator (a git pull)', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'ddpm-generated-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const dir of ['proto/ddpm/v1', 'libs/protocol/src/generated', 'libs/protocol/scripts'])
    mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, 'proto/ddpm/v1/step.proto'), '');
  writeFileSync(join(root, 'libs/protocol/scripts/generate.mjs'), '');
  const { protos, outputs, generator } = paths(root);
  t.is(protos.length, 1);
  t.true(stale(root), 'no generated files yet');
  const at = (file: string, seconds: number): void => utimesSync(file, seconds, seconds);
  for (const file of outputs) writeFileSync(file, '');
  [...protos, generator].forEach((file) => at(file, 1000));
  outputs.forEach((file) => at(file, 2000));
  t.false(stale(root), 'generated after its sources');
  at(protos[0], 3000);
  t.true(stale(root), 'a .proto file changed since');
  at(protos[0], 1000);
  at(generator, 3000);
  t.true(stale(root), 'the generator changed since');
});
