// Every `ddpm ...` command written in the documentation and the deploy files parses through the real CLI parser:
// README.md, CHANGELOG.md, docs/ and everything under deploy/ (Markdown code, shell scripts, Dockerfile CMD arrays,
// compose `command:` and Kubernetes `args:` lists, and `ddpm` lines inside YAML strings). A renamed or removed flag, a
// misspelt subcommand or a bad value (`--steps ten`) fails here with the file and line that document it.
// Actions are replaced by no-ops, so nothing runs; flag values still go through the commands' own parsers.
import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommanderError, type Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { buildProgram } from '@ddpm/commands';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** One documented invocation: the arguments after `ddpm`, and where it was found. */
interface DocumentedCommand {
  readonly args: readonly string[];
  readonly where: string;
}

type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) return [];
    const path = join(dir, entry.name);
    return entry.isDirectory() ? listFiles(path) : entry.isFile() ? [path] : [];
  });
}

/**
 * Replaces variables by values a flag accepts: `${VAR:-default}` by its default, `$(VAR)` (Kubernetes) by `env`,
 * and any other `$VAR`, `${VAR}`, `$(VAR)` by "1" (every flag the deploy files fill from a variable takes a
 * number or a free string). Compose's `$$` is a literal `$`.
 */
function substitute(word: string, env: ReadonlyMap<string, string> = new Map()): string {
  return word
    .replace(/\$\$/g, '$')
    .replace(/\$\{\w+:?-([^}]*)\}/g, '$1')
    .replace(/\$\((\w+)\)/g, (_, name: string) => env.get(name) ?? '1')
    .replace(/\$\{\w+\}|\$\w+/g, '1');
}

/**
 * Splits the text after `ddpm` into words as a POSIX shell would (quotes, backslashes), stopping at the end of
 * the command: `|`, `;`, `&`, `&&`, a redirection, a comment, or a closing backtick. Drops a trailing `...`
 * (documentation for "more flags").
 */
function shellWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unbalanced ${c} in: ${text}`);
      word += text.slice(i + 1, end).replace(c === '"' ? /\\(["\\$`])/g : /$^/, '$1');
      inWord = true;
      i = end;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (/[|;&`]/.test(c) || (c === '>' && !word.startsWith('<')) || (c === '#' && !inWord)) {
      break;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  while (words.at(-1) === '...' || words.at(-1) === '…') words.pop();
  return words;
}

/**
 * `ddpm <subcommand> ...` occurrences in one line of text; `anyWord` also takes words that are not commands (to
 * catch misspelt subcommands where the text is surely a command); `atStart` takes only commands that begin the
 * line or follow `&&`, `;` or a `$ ` prompt (for fenced Markdown blocks, which also hold diagrams).
 */
function commandsInLine(
  line: string,
  commandNames: readonly string[],
  where: string,
  anyWord: boolean,
  atStart = false,
): DocumentedCommand[] {
  const found: DocumentedCommand[] = [];
  const pattern = atStart
    ? /(?:^\s*(?:\$\s+)?|&&\s*|;\s*)(?:npx\s+)?ddpm\s+(?=([a-z][\w-]*)(?:[\s"'`]|$))/g
    : /(?:^|[\s"'`(])(?:npx\s+)?ddpm\s+(?=([a-z][\w-]*)(?:[\s"'`]|$))/g;
  for (const match of line.matchAll(pattern)) {
    if (!anyWord && !commandNames.includes(match[1])) continue;
    const args = shellWords(line.slice((match.index ?? 0) + match[0].length)).map((word) => substitute(word));
    found.push({ args, where });
  }
  return found;
}

/** Joins shell continuation lines (`\` at the end) and keeps each joined line's first line number. */
function joinedLines(text: string): { line: string; number: number }[] {
  const result: { line: string; number: number }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const number = i + 1;
    let line = lines[i];
    while (line.endsWith('\\') && i + 1 < lines.length)
      line = `${line.slice(0, -1)} ${lines[++i].trim().replace(/^#\s*/, '')}`;
    result.push({ line, number });
  }
  return result;
}

function fromMarkdown(text: string, names: readonly string[], file: string): DocumentedCommand[] {
  const found: DocumentedCommand[] = [];
  let fenced = false;
  for (const { line, number } of joinedLines(text)) {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      continue;
    }
    const where = `${file}:${number}`;
    if (fenced) found.push(...commandsInLine(line, names, where, true, true));
    else
      for (const span of line.matchAll(/`([^`]+)`/g))
        found.push(...commandsInLine(span[1], names, where, /^(npx\s+)?ddpm\s/.test(span[1])));
  }
  return found;
}

function fromShell(text: string, names: readonly string[], file: string): DocumentedCommand[] {
  return joinedLines(text).flatMap(({ line, number }) => commandsInLine(line, names, `${file}:${number}`, false));
}

function fromDockerfile(text: string, names: readonly string[], file: string): DocumentedCommand[] {
  return joinedLines(text).flatMap(({ line, number }) => {
    const cmd = /^\s*CMD\s+(\[.*\])\s*$/.exec(line);
    const args = cmd === null ? undefined : (JSON.parse(cmd[1]) as string[]);
    if (args !== undefined && names.includes(args[0])) return [{ args, where: `${file}:${number}` }];
    return commandsInLine(line, names, `${file}:${number}`, false);
  });
}

/** Command lists whose first word is a subcommand (compose `command:`, Kubernetes `args:`), and ddpm lines in strings. */
function fromYaml(text: string, names: readonly string[], file: string): DocumentedCommand[] {
  const found: DocumentedCommand[] = [];
  const visit = (value: Yaml, path: string, env: ReadonlyMap<string, string>): void => {
    if (typeof value === 'string') {
      for (const line of value.split('\n')) found.push(...commandsInLine(line, names, `${file} ${path}`, false));
    } else if (Array.isArray(value)) {
      const words = value.map(String);
      const isCommandList = /(^|\.)(command|args)$/.test(path);
      if (isCommandList && words.length > 0 && names.includes(words[0]) && value.every((v) => typeof v !== 'object')) {
        found.push({ args: words.map((word) => substitute(word, env)), where: `${file} ${path}` });
      } else value.forEach((item, index) => visit(item, `${path}[${index}]`, env));
    } else if (value !== null && typeof value === 'object') {
      const vars = Array.isArray(value.env) ? value.env : [];
      const ownEnv = new Map(env);
      for (const entry of vars)
        if (entry !== null && typeof entry === 'object' && !Array.isArray(entry) && typeof entry.value === 'string')
          ownEnv.set(String(entry.name), entry.value);
      for (const [key, child] of Object.entries(value)) visit(child, path === '' ? key : `${path}.${key}`, ownEnv);
    }
  };
  for (const document of parseAllDocuments(text, { merge: true }))
    visit(document.toJS({ maxAliasCount: 100 }) as Yaml, '', new Map());
  // comments are documentation too
  found.push(
    ...fromShell(
      text
        .split('\n')
        .map((line) => (/^\s*#/.test(line) ? line : ''))
        .join('\n'),
      names,
      file,
    ),
  );
  return found;
}

/** Every documented `ddpm` command in README.md, CHANGELOG.md, docs/ and deploy/. */
function documentedCommands(names: readonly string[]): DocumentedCommand[] {
  const files = [
    join(REPO_ROOT, 'README.md'),
    join(REPO_ROOT, 'CHANGELOG.md'),
    ...listFiles(join(REPO_ROOT, 'docs')),
    ...listFiles(join(REPO_ROOT, 'deploy')),
  ].filter(existsSync);
  return files.flatMap((path) => {
    const file = relative(REPO_ROOT, path);
    const text = readFileSync(path, 'utf8');
    if (file.endsWith('.md')) return fromMarkdown(text, names, file);
    if (/\.ya?ml$/.test(file)) return fromYaml(text, names, file);
    if (basename(file).startsWith('Dockerfile') && !file.endsWith('.dockerignore'))
      return fromDockerfile(text, names, file);
    if (/\.(sh|sbatch|example)$/.test(file)) return fromShell(text, names, file);
    return [];
  });
}

function eachCommand(command: Command, apply: (command: Command) => void): void {
  apply(command);
  for (const sub of command.commands) eachCommand(sub, apply);
}

/**
 * Parses `ddpm <args>` with the real program, actions replaced by no-ops. Resolves for accepted arguments (and
 * for --help); rejects with commander's message for an unknown command or flag, a missing or bad value.
 */
async function parseWithoutRunning(args: readonly string[]): Promise<void> {
  const program = buildProgram();
  const errors: string[] = [];
  eachCommand(program, (command) => {
    command.exitOverride().configureOutput({ writeOut: () => undefined, writeErr: (text) => errors.push(text.trim()) });
    if (command.commands.length === 0 && command !== program) command.action(() => undefined);
  });
  try {
    await program.parseAsync(['node', 'ddpm', ...args]);
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode === 0) return;
    throw new Error(`${(error as Error).message}${errors.length > 0 ? ` (${errors.join('; ')})` : ''}`);
  }
}

const program = buildProgram();
const commandNames = program.commands.map((command) => command.name());
const commands = documentedCommands(commandNames);

test('the parser check is live: unknown commands, unknown flags and bad values are rejected', async (t) => {
  await t.notThrowsAsync(parseWithoutRunning(['worker', '--connect', 'tcp://10.0.0.1:5555', '--name', 'w0']));
  await t.notThrowsAsync(parseWithoutRunning(['coordinator', '--help']));
  await t.throwsAsync(parseWithoutRunning(['worker', '--connect', 'tcp://h:1', '--no-such-flag']), {
    message: /unknown option/,
  });
  await t.throwsAsync(parseWithoutRunning(['coordinator', '--steps', 'ten']));
  await t.throwsAsync(parseWithoutRunning(['coordinater']), { message: /unknown command/ });
  await t.throwsAsync(parseWithoutRunning(['worker', '--connect']), { message: /argument missing/ });
});

test('extraction: shell words, variables, markdown code and YAML command lists', (t) => {
  t.deepEqual(shellWords(`worker --name "$(hostname)" --a 'b c' x\\ y | tee log`), [
    'worker',
    '--name',
    '$(hostname)',
    '--a',
    'b c',
    'x y',
  ]);
  t.deepEqual(shellWords('coordinator --min-workers 2 ...'), ['coordinator', '--min-workers', '2']);
  t.is(substitute('${DDPM_STEPS:-2000}'), '2000');
  t.is(substitute('tcp://$HOST:${PORT}'), 'tcp://1:1');
  t.is(substitute('$(DDPM_BACKEND)', new Map([['DDPM_BACKEND', 'wasm']])), 'wasm');
  t.deepEqual(
    fromMarkdown(
      'run `npx ddpm local --workers 2` or\n```sh\nddpm train \\\n  --steps 5\n```\n',
      ['local', 'train'],
      'x.md',
    ),
    [
      { args: ['local', '--workers', '2'], where: 'x.md:1' },
      { args: ['train', '--steps', '5'], where: 'x.md:3' },
    ],
  );
  t.deepEqual(
    fromYaml('c:\n  env: [{name: B, value: wasm}]\n  args: [worker, --backend, $(B)]\n', ['worker'], 'x.yaml'),
    [{ args: ['worker', '--backend', 'wasm'], where: 'x.yaml c.args' }],
  );
});

test('the deploy files and the README document ddpm commands of every target', (t) => {
  const where = (prefix: string, subcommand: string): boolean =>
    commands.some((c) => c.where.startsWith(prefix) && c.args[0] === subcommand);
  for (const prefix of [
    'deploy/compose/compose.yaml',
    'deploy/k8s/base/coordinator-job.yaml',
    'deploy/slurm/ddpm.sbatch',
    'deploy/docker/Dockerfile',
  ])
    t.true(where(prefix, 'coordinator'), `no ddpm coordinator found in ${prefix}`);
  for (const prefix of [
    'deploy/compose/compose.yaml',
    'deploy/compose/compose.gpu.yaml',
    'deploy/k8s/base/worker-job.yaml',
    'deploy/slurm/ddpm-worker.sh',
    'deploy/docker/Dockerfile',
  ])
    t.true(where(prefix, 'worker'), `no ddpm worker found in ${prefix}`);
  t.true(
    commands.some((c) => c.where.startsWith('README.md')),
    'no ddpm command found in README.md',
  );
});

/** The documents that show `ddpm` commands, and how many each showed when this test was last updated (a floor). */
const COMMANDS_PER_DOCUMENT: Readonly<Record<string, number>> = {
  'README.md': 15,
  'CHANGELOG.md': 6,
  'deploy/README.md': 6,
  'docs/architecture.md': 4,
  'docs/observability.md': 2,
  'docs/performance.md': 12,
  'docs/reliability.md': 5,
};

test('each document still shows its ddpm commands (a moved section or a broken extraction fails here)', (t) => {
  for (const [file, least] of Object.entries(COMMANDS_PER_DOCUMENT)) {
    t.true(existsSync(join(REPO_ROOT, file)), `${file} is missing`);
    const found = commands.filter((c) => c.where.startsWith(`${file}:`)).length;
    t.true(found >= least, `${file}: ${found} ddpm commands found, expected at least ${least}`);
  }
});

test("the README's command table shows every ddpm subcommand", (t) => {
  const inReadme = commands.filter((c) => c.where.startsWith('README.md:'));
  for (const command of program.commands) {
    const leaves =
      command.commands.length === 0 ? [[command.name()]] : command.commands.map((sub) => [command.name(), sub.name()]);
    for (const leaf of leaves)
      t.true(
        inReadme.some((c) => leaf.every((word, i) => c.args[i] === word)),
        `README.md shows no \`ddpm ${leaf.join(' ')}\` command`,
      );
  }
});

for (const { args, where } of commands) {
  test(`${where}: ddpm ${args.join(' ')}`, async (t) => {
    await t.notThrowsAsync(parseWithoutRunning(args), `documented at ${where}`);
  });
}
