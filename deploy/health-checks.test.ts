// The health checks of the deploy files against what the CLI serves: every Docker HEALTHCHECK and Kubernetes
// livenessProbe fetches /healthz (which fails on a stalled run) on the port the process's own --metrics-port
// names. None relies on DDPM_METRICS_PORT, an environment variable the CLI never read. The coordinators run with
// --stall-timeout, and the CLI really serves /healthz with a stall check. Before issue 15 the Dockerfile's checks
// fetched http://127.0.0.1:$DDPM_METRICS_PORT/metrics, answered by a separate thread even when the training loop hung.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEPLOY_ROOT, isMap, listAt, listFiles, mapAt, renderKustomization, repoPath } from './test-support.ts';

const DOCKERFILE = readFileSync(join(DEPLOY_ROOT, 'docker', 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, ' ');

/** Each stage's HEALTHCHECK command and CMD list (continuation lines joined). */
function stages(): { name: string; health?: string; cmd?: string[] }[] {
  const result: { name: string; health?: string; cmd?: string[] }[] = [];
  for (const line of DOCKERFILE.split('\n')) {
    const from = /^FROM\s+\S+\s+AS\s+(\S+)/i.exec(line);
    if (from !== null) result.push({ name: from[1] });
    const current = result.at(-1);
    if (current === undefined) continue;
    if (/^HEALTHCHECK\s/.test(line)) current.health = line;
    const cmd = /^CMD\s+(\[.*\])\s*$/.exec(line);
    if (cmd !== null) current.cmd = JSON.parse(cmd[1]) as string[];
  }
  return result;
}

function flag(args: readonly string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index < 0 ? undefined : args[index + 1];
}

test('every Docker HEALTHCHECK fetches /healthz on the port its CMD passes to --metrics-port', (t) => {
  const checked = stages().filter((s) => s.health !== undefined);
  t.deepEqual(
    checked.map((s) => s.name),
    ['coordinator', 'worker-cpu', 'worker-gpu', 'worker-webgpu'],
  );
  for (const stage of checked) {
    const url = /fetch\('(http:\/\/127\.0\.0\.1:(\d+)\/\w+)'\)/.exec(stage.health ?? '');
    t.truthy(url, `${stage.name}: the health check fetches no literal URL: ${stage.health}`);
    t.is(url?.[1], `http://127.0.0.1:${flag(stage.cmd ?? [], '--metrics-port')}/healthz`, stage.name);
  }
  t.is(flag(stages().find((s) => s.name === 'coordinator')?.cmd ?? [], '--stall-timeout'), '900');
});

test('no deploy file uses DDPM_METRICS_PORT (the CLI never reads it)', (t) => {
  const files = listFiles(DEPLOY_ROOT, ['Dockerfile', '.yaml', '.yml', '.sh', '.sbatch', '.example']);
  t.true(files.length > 20);
  for (const file of files) t.notRegex(readFileSync(file, 'utf8'), /DDPM_METRICS_PORT/, repoPath(file));
  const cli = listFiles(join(DEPLOY_ROOT, '..', 'libs'), ['.ts', '.mjs']).filter((f) => !f.endsWith('.test.ts'));
  t.false(
    cli.some((file) => readFileSync(file, 'utf8').includes('DDPM_METRICS_PORT')),
    'the CLI reads DDPM_METRICS_PORT now: this test and the deploy files should say so',
  );
});

test('Kubernetes liveness probes fetch /healthz on the named metrics port; the coordinator has --stall-timeout', (t) => {
  const objects = renderKustomization(join(DEPLOY_ROOT, 'k8s', 'overlays', 'cpu'));
  for (const [job, name] of [
    ['ddpm-coordinator', 'coordinator'],
    ['ddpm-worker', 'worker'],
  ] as const) {
    const workload = objects.find((o) => o.kind === 'Job' && mapAt(o, 'metadata', job).name === job) ?? {};
    const pod = mapAt(mapAt(mapAt(workload, 'spec', job), 'template', job), 'spec', job);
    const container = listAt(pod, 'containers', job)
      .filter(isMap)
      .find((c) => c.name === name);
    const probe = mapAt(mapAt(container ?? {}, 'livenessProbe', name), 'httpGet', name);
    t.is(probe.path, '/healthz', `${job}: liveness must fail on a stalled run`);
    const port = listAt(container ?? {}, 'ports', name)
      .filter(isMap)
      .find((p) => p.name === probe.port);
    const args = listAt(container ?? {}, 'args', name).map(String);
    t.is(
      String(port?.containerPort),
      String(flag(args, '--metrics-port')),
      `${job}: the probe's port is --metrics-port`,
    );
    if (name === 'coordinator') t.is(flag(args, '--stall-timeout'), '900');
  }
});

test('the CLI serves /healthz with a stall check and has --stall-timeout (the checks above are not hollow)', (t) => {
  const thread = readFileSync(join(DEPLOY_ROOT, '..', 'libs', 'metrics', 'src', 'metrics-http-thread.mjs'), 'utf8');
  t.regex(thread, /path === '\/healthz'/);
  t.regex(thread, /livenessVerdict\(/);
  const health = readFileSync(join(DEPLOY_ROOT, '..', 'libs', 'commands', 'src', 'coordinator-health.ts'), 'utf8');
  t.regex(health, /'--stall-timeout <seconds>'/);
});
