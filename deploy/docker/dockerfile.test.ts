// Static checks of deploy/docker/Dockerfile (no Docker engine here): the four targets exist, run as a non-root
// user, have a health check, use the CUDA 11.2 + cuDNN 8 runtime where required and Node 24 LTS on Debian 13
// everywhere else, the Vulkan worker has
// the Vulkan loader, Mesa and the NVIDIA graphics capability, and every file they COPY from the build context exists
// and is not excluded by the ignore file.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEPLOY_ROOT, REPO_ROOT } from '../test-support.ts';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}
interface Stage {
  readonly name: string;
  readonly base: string;
  readonly instructions: Instruction[];
}

const DOCKERFILE = join(DEPLOY_ROOT, 'docker', 'Dockerfile');
const IGNORE_FILE = `${DOCKERFILE}.dockerignore`;

/** Splits a Dockerfile into stages of instructions (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const lines = text.replace(/\\\n(\s*#.*\n)*/g, ' ').split('\n');
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(\w+)\s+(.*)$/.exec(line);
    if (match === null) throw new Error(`Dockerfile line not understood: ${line}`);
    const keyword = match[1].toUpperCase();
    const rest = match[2];
    if (keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (from === null) throw new Error(`FROM not understood: ${rest}`);
      const base = from[1].replace(
        /\$\{(\w+)\}/g,
        (_, name: string) => args.get(name) ?? stages.find((s) => s.name === name)?.name ?? name,
      );
      stages.push({ name: from[2] ?? `stage-${stages.length}`, base, instructions: [] });
    } else if (keyword === 'ARG' && stages.length === 0) {
      const [name, value = ''] = rest.split('=', 2);
      args.set(name, value);
    } else {
      if (stages.length === 0) throw new Error(`${keyword} before the first FROM`);
      stages[stages.length - 1].instructions.push({ keyword, args: rest });
    }
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'));

/** The instructions of `name` and of every stage it is built FROM, innermost last. */
function chain(name: string): Instruction[] {
  const stage = dockerfile.stages.find((s) => s.name === name);
  if (stage === undefined) return [];
  return [...chain(stage.base), ...stage.instructions];
}

/** The first external base image of a target (following FROM <stage>). */
function rootImage(name: string): string {
  const stage = dockerfile.stages.find((s) => s.name === name);
  if (stage === undefined) return name;
  return rootImage(stage.base);
}

const TARGETS = ['coordinator', 'worker-cpu', 'worker-gpu', 'worker-webgpu'] as const;

for (const target of TARGETS) {
  test(`target ${target} runs as a non-root user with a health check on /healthz`, (t) => {
    const instructions = chain(target);
    t.true(instructions.length > 0, `stage ${target} is missing`);
    const user = instructions.filter((i) => i.keyword === 'USER').at(-1);
    t.truthy(user, 'no USER instruction: the image would run as root');
    t.notRegex(user?.args ?? '', /^(0|root)(:|$)/);
    const health = instructions.filter((i) => i.keyword === 'HEALTHCHECK').at(-1);
    t.regex(health?.args ?? '', /\/healthz/);
    const entrypoint = instructions.filter((i) => i.keyword === 'ENTRYPOINT').at(-1);
    t.deepEqual(JSON.parse(entrypoint?.args ?? 'null') as unknown, ['/usr/bin/tini', '--', 'ddpm']);
  });
}

test('the GPU worker runs on CUDA 11.2 + cuDNN 8 with Node 24; every other image on Node 24 LTS, Debian 13', (t) => {
  t.regex(rootImage('worker-gpu'), /^nvidia\/cuda:11\.2\.\d+-cudnn8-runtime-/);
  t.true(
    chain('worker-gpu').some((i) => i.keyword === 'COPY' && /--from=node\b.*\/usr\/local\/bin\/node/.test(i.args)),
  );
  // Node 20 and Debian 12 / Ubuntu 20.04 bases are past end of life; only CUDA 11.2 may pin an old base
  for (const stage of ['node', 'coordinator', 'worker-cpu', 'worker-webgpu', 'build-cpu', 'build-webgpu'])
    t.regex(rootImage(stage), /^node:24(\.\d+)*-trixie(-slim)?$/, stage);
  for (const stage of dockerfile.stages.map((s) => s.name))
    if (!/^nvidia\/cuda:/.test(rootImage(stage)))
      t.notRegex(rootImage(stage), /node:(1\d|20|21|23)\b|bookworm|bullseye|ubuntu20\.04/, stage);
  const engines = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } })
    .engines.node;
  t.is(engines, '>=20', 'package.json engines changed: check the Node version of the images');
});

test('the Dockerfile says that CUDA 11.2 pins the old Ubuntu base of worker-gpu, and why', (t) => {
  const text = readFileSync(DOCKERFILE, 'utf8');
  const comment = /((?:^#.*\n)+)ARG CUDA_IMAGE=/m.exec(text)?.[1] ?? '';
  t.regex(comment, /CUDA 11\.2/);
  t.regex(comment, /Ubuntu 20\.04/);
  t.regex(comment, /tfjs-node-gpu/);
  t.regex(comment, /pin/i);
});

test('every image carries deploy/slurm/ddpm-worker.sh (ddpm.sbatch runs it inside the image in container mode)', (t) => {
  for (const target of TARGETS)
    t.true(
      chain(target).some((i) => i.keyword === 'COPY' && /--from=build-/.test(i.args)) &&
        dockerfile.stages
          .filter((s) => s.name.startsWith('build-'))
          .every((s) =>
            s.instructions.some((i) => i.keyword === 'COPY' && /deploy\/slurm\/ddpm-worker\.sh/.test(i.args)),
          ),
      target,
    );
  t.false(ignored('deploy/slurm/ddpm-worker.sh', ignorePatterns), 'the ignore file lets the script through');
  t.true(ignored('deploy/compose/compose.yaml', ignorePatterns), 'the rest of deploy/ stays out');
});

/** The ENV variables a stage chain sets (later settings win). */
function envOf(instructions: readonly Instruction[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const i of instructions.filter((i) => i.keyword === 'ENV'))
    for (const m of i.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env.set(m[1], m[2].replace(/^"|"$/g, ''));
  return env;
}

/** The CMD of a target as a list. */
function cmdOf(target: string): string[] {
  const cmd = chain(target)
    .filter((i) => i.keyword === 'CMD')
    .at(-1);
  return JSON.parse(cmd?.args ?? '[]') as string[];
}

test('the Vulkan worker: Node 22/24 LTS on Debian 13 (Mesa >= 25, glibc >= 2.34), runs --backend webgpu', (t) => {
  // Dawn finds no adapter on Mesa 22's lavapipe (bookworm); dawn.node needs glibc >= 2.34 (not Ubuntu 20.04)
  t.regex(rootImage('worker-webgpu'), /^node:(22|24)(\.\d+)*-trixie(-slim)?$/);
  t.is(rootImage('build-webgpu'), rootImage('worker-webgpu'), 'build and runtime on the same base (native addons)');
  const cmd = cmdOf('worker-webgpu');
  t.is(cmd[0], 'worker');
  t.is(cmd[cmd.indexOf('--backend') + 1], 'webgpu');
  t.is(cmdOf('worker-gpu')[cmdOf('worker-gpu').indexOf('--backend') + 1], 'tensorflow');
});

test('the Vulkan worker has the Vulkan loader, Mesa (lavapipe) and the NVIDIA graphics capability', (t) => {
  const installs = chain('worker-webgpu')
    .filter((i) => i.keyword === 'RUN' && /apt-get install/.test(i.args))
    .map((i) => i.args)
    .join(' ');
  for (const pkg of ['libvulkan1', 'mesa-vulkan-drivers', 'libglvnd0', 'tini'])
    t.regex(installs, new RegExp(`\\s${pkg}\\b`), `worker-webgpu installs ${pkg}`);
  const env = envOf(chain('worker-webgpu'));
  // the NVIDIA Container Toolkit mounts the Vulkan ICD only with `graphics`
  const caps = (env.get('NVIDIA_DRIVER_CAPABILITIES') ?? '').split(',');
  for (const cap of ['compute', 'utility', 'graphics'])
    t.true(caps.includes(cap), `NVIDIA_DRIVER_CAPABILITIES has ${cap}`);
  t.false(env.has('NVIDIA_VISIBLE_DEVICES'), 'the runtime, not the image, decides which GPUs a container sees');
  // the CPU fallback stays available in the image; only the GPU deployments hide it
  t.false(env.has('VK_LOADER_DRIVERS_DISABLE'));
  // the build fails when Dawn's binary did not install, and the CUDA binding is not shipped
  const build = chain('build-webgpu').filter((i) => i.keyword === 'RUN');
  t.true(
    build.some((i) =>
      /test -f "node_modules\/webgpu\/dist\/linux-\$\(node -p process\.arch\)\/dawn\.node"/.test(i.args),
    ),
  );
  t.true(build.some((i) => /rm -rf node_modules\/@tensorflow\/tfjs-node-gpu/.test(i.args)));
});

test('the runtime images are separate stages from the build (multi-stage, no compilers shipped)', (t) => {
  for (const runtime of ['runtime-cpu', 'worker-gpu', 'worker-webgpu']) {
    const own = dockerfile.stages.find((s) => s.name === runtime)?.instructions ?? [];
    t.true(
      own.some((i) => i.keyword === 'COPY' && /--from=build-/.test(i.args)),
      `${runtime} copies the app from a build stage`,
    );
    t.false(
      own.some((i) => i.keyword === 'RUN' && /\bg\+\+|\bnpm ci\b/.test(i.args)),
      `${runtime} installs no compiler and runs no npm ci`,
    );
  }
});

/** Ignore-file patterns as Docker applies them (anchored at the context root; `**` any depth; later `!` re-includes). */
function ignored(path: string, patterns: readonly string[]): boolean {
  let result = false;
  for (const pattern of patterns) {
    const negate = pattern.startsWith('!');
    const body = negate ? pattern.slice(1) : pattern;
    const regex = new RegExp(
      `^${body
        .split('/')
        .map((part) =>
          part === '**'
            ? '.*'
            : part
                .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?')}(?:/.*)?$`,
    );
    if (regex.test(path)) result = !negate;
  }
  return result;
}

const ignorePatterns = readFileSync(IGNORE_FILE, 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));

test('the ignore file matcher behaves like Docker on known cases', (t) => {
  t.true(ignored('node_modules/x', ['**/node_modules']));
  t.true(ignored('libs/a/node_modules', ['**/node_modules']));
  t.false(ignored('libs/a/src/x.ts', ['**/node_modules']));
  t.false(ignored('docs/a.md', ['*.md']));
  t.true(ignored('README.md', ['*.md']));
  t.false(ignored('a/keep.md', ['a', '!a/keep.md']));
});

test('the build context ignore file keeps node_modules, runs/ and generated code out', (t) => {
  for (const path of ['node_modules', 'libs/protocol/src/generated', 'runs', '.git', 'deploy/compose/.env'])
    t.true(ignored(path, ignorePatterns), path);
});

test('every COPY source from the build context exists and is not ignored', (t) => {
  const copies = dockerfile.stages
    .flatMap((s) => s.instructions)
    .filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='));
  t.true(copies.length >= 4);
  for (const copy of copies) {
    const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'));
    for (const source of parts.slice(0, -1)) {
      t.true(existsSync(join(REPO_ROOT, source)), `COPY ${source}: not in the repository`);
      t.false(ignored(source, ignorePatterns), `COPY ${source}: excluded by ${IGNORE_FILE}`);
    }
  }
  // what the runtime needs and must reach the image
  for (const needed of [
    'apps/cli/bin/ddpm.js',
    'libs/data/assets/mnist/t10k-images-idx3-ubyte.gz',
    'proto/ddpm/v1',
    'tsconfig.base.json',
  ]) {
    t.false(ignored(needed, ignorePatterns), `${needed} must reach the image`);
  }
});

test('the coordinator image resumes by default: a restarted container reuses a non-empty --out only with --resume', (t) => {
  const cmd = cmdOf('coordinator');
  t.is(cmd[0], 'coordinator');
  t.is(cmd[cmd.indexOf('--resume') + 1], 'latest', 'without --resume a restart into /runs/ddpm is refused (exit 2)');
});
