// Helpers shared by the deploy checks (the *.test.ts files under deploy/). They read files and run the tools
// that exist on a machine without a Docker engine or a cluster: kubectl's built-in kustomize, promtool, bash.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** Absolute path of deploy/. */
export const DEPLOY_ROOT = dirname(fileURLToPath(import.meta.url));
/** Absolute path of the repository root. */
export const REPO_ROOT = join(DEPLOY_ROOT, '..');

/** A JSON-like value as YAML parses it. */
export type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };
/** A YAML mapping. */
export type YamlMap = { [key: string]: Yaml };

/**
 * Lists the files under `dir` (absolute), recursively, whose names end with one of `suffixes`, sorted.
 * Skips node_modules and dot-folders. Does not follow symlinks.
 */
export function listFiles(dir: string, suffixes: readonly string[]): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listFiles(path, suffixes));
    else if (entry.isFile() && suffixes.some((suffix) => entry.name.endsWith(suffix))) found.push(path);
  }
  return found.sort();
}

/** Path relative to the repository root, for messages and test titles. */
export function repoPath(path: string): string {
  return relative(REPO_ROOT, path);
}

/**
 * Parses every YAML document of `text` (`---`-separated). Throws an Error naming `source` and the first parse
 * error or warning (duplicate keys count as errors), so a file that YAML tools read differently fails loudly.
 * Empty documents are dropped.
 */
export function parseYamlDocuments(text: string, source: string): Yaml[] {
  const documents = parseAllDocuments(text, { uniqueKeys: true, merge: true });
  const list = Array.isArray(documents) ? documents : [documents];
  const values: Yaml[] = [];
  for (const document of list) {
    const problem = document.errors[0] ?? document.warnings[0];
    if (problem !== undefined)
      throw new Error(`${source}: ${problem.message}. Fix the YAML so that it parses without errors or warnings.`);
    const value = document.toJS({ maxAliasCount: 100 }) as Yaml;
    if (value !== null && value !== undefined) values.push(value);
  }
  return values;
}

/** Reads and parses a one-document YAML file (absolute path) that must hold a mapping. */
export function readYamlMap(path: string): YamlMap {
  const [value, ...rest] = parseYamlDocuments(readFileSync(path, 'utf8'), repoPath(path));
  if (!isMap(value) || rest.length > 0) throw new Error(`${repoPath(path)} must hold exactly one YAML mapping.`);
  return value;
}

/** True for a YAML mapping (not an array, not a scalar). */
export function isMap(value: Yaml | undefined): value is YamlMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The mapping at `key` of `map`; throws naming `where` when it is missing or not a mapping. */
export function mapAt(map: YamlMap, key: string, where: string): YamlMap {
  const value = map[key];
  if (!isMap(value)) throw new Error(`${where}.${key} must be a mapping.`);
  return value;
}

/** The list at `key` of `map` (an empty list when the key is absent); throws when it is not a list. */
export function listAt(map: YamlMap, key: string, where: string): Yaml[] {
  const value = map[key];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`${where}.${key} must be a list.`);
  return value;
}

/** True when `command` is on PATH. */
export function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Renders a kustomization directory (absolute) with kubectl's built-in kustomize (kubectl >= 1.27, kustomize v5)
 * and returns the objects. With `loadRestrictorNone` the kustomization may read files outside its folder.
 * Throws with kubectl's message when rendering fails, and says how to get kubectl when it is missing.
 */
export function renderKustomization(dir: string, loadRestrictorNone = false): YamlMap[] {
  if (!hasCommand('kubectl'))
    throw new Error(
      'kubectl is not on PATH: install kubectl >= 1.27 (its built-in kustomize renders deploy/k8s); the node machine image ships it.',
    );
  const args = ['kustomize', ...(loadRestrictorNone ? ['--load-restrictor', 'LoadRestrictionsNone'] : []), dir];
  let output: string;
  try {
    output = execFileSync('kubectl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`kubectl ${args.join(' ')} failed: ${stderr.trim()}`);
  }
  return parseYamlDocuments(output, `kustomize ${repoPath(dir)}`).map((object, index) => {
    if (!isMap(object)) throw new Error(`kustomize ${repoPath(dir)}: document ${index} is not a Kubernetes object.`);
    return object;
  });
}
