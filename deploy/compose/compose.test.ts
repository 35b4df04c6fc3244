// Static checks of the compose files (no Docker engine here): build contexts, Dockerfiles and targets exist,
// bind-mounted paths exist, named volumes are declared, Prometheus finds the workers by the names compose gives
// them, and Grafana's admin password has no committed default.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { DEPLOY_ROOT, isMap, listAt, mapAt, readYamlMap, type YamlMap } from '../test-support.ts';

const COMPOSE_DIR = join(DEPLOY_ROOT, 'compose');
const FILES = ['compose.yaml', 'compose.gpu.yaml'] as const;
const base = readYamlMap(join(COMPOSE_DIR, 'compose.yaml'));
const gpu = readYamlMap(join(COMPOSE_DIR, 'compose.gpu.yaml'));

/** Replaces compose's ${VAR:-default} by its default and ${VAR:?message} by a marker; $$ is a literal $. */
function interpolateDefaults(value: string): string {
  return value
    .split('$$')
    .map((part) =>
      part.replace(
        /\$\{(\w+)(?::?-([^}]*))?(?::?\?[^}]*)?\}/g,
        (_, name: string, fallback?: string) => fallback ?? `<${name}>`,
      ),
    )
    .join('$');
}

function services(file: YamlMap, name: string): [string, YamlMap][] {
  return Object.entries(mapAt(file, 'services', name)).map(([key, value]) => {
    if (!isMap(value)) throw new Error(`${name}: service ${key} must be a mapping`);
    return [key, value];
  });
}

const dockerfileTargets = [
  ...readFileSync(join(DEPLOY_ROOT, 'docker', 'Dockerfile'), 'utf8').matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim),
].map((m) => m[1]);

for (const [fileName, file] of [
  [FILES[0], base],
  [FILES[1], gpu],
] as const) {
  test(`${fileName}: build contexts, Dockerfiles and targets exist`, (t) => {
    let builds = 0;
    for (const [name, service] of services(file, fileName)) {
      if (service.build === undefined) continue;
      const build = mapAt(service, 'build', name);
      const context = resolve(COMPOSE_DIR, String(build.context));
      t.true(existsSync(join(context, 'package.json')), `${name}: build context ${context} is not the repository root`);
      const dockerfile = join(context, String(build.dockerfile));
      t.true(existsSync(dockerfile), `${name}: ${dockerfile} does not exist`);
      t.true(
        dockerfileTargets.includes(String(build.target)),
        `${name}: target ${String(build.target)} is not a stage of the Dockerfile`,
      );
      builds += 1;
    }
    t.true(builds >= 1);
  });

  test(`${fileName}: bind-mounted paths exist and named volumes are declared`, (t) => {
    const declared = Object.keys(isMap(base.volumes) ? base.volumes : {});
    for (const [name, service] of services(file, fileName)) {
      for (const volume of listAt(service, 'volumes', name)) {
        const [source] = String(volume).split(':');
        if (source.startsWith('.') || isAbsolute(source)) {
          t.true(existsSync(resolve(COMPOSE_DIR, source)), `${name}: mounted path ${source} does not exist`);
        } else {
          t.true(declared.includes(source), `${name}: volume ${source} is not declared under volumes:`);
        }
      }
    }
  });
}

test('Prometheus and Grafana mount the shipped config, rules, provisioning and dashboards', (t) => {
  const mounts = (name: string): Map<string, string> =>
    new Map(
      listAt(mapAt(mapAt(base, 'services', 'compose'), name, 'services'), 'volumes', name).map((v) => {
        const [source, target] = String(v).split(':');
        return [target, resolve(COMPOSE_DIR, source)];
      }),
    );
  const prometheus = mounts('prometheus');
  t.true(existsSync(join(prometheus.get('/etc/prometheus') ?? '', 'prometheus.yml')));
  t.true(existsSync(join(prometheus.get('/etc/prometheus') ?? '', 'rules')));
  const grafana = mounts('grafana');
  t.true(existsSync(join(grafana.get('/etc/grafana/provisioning') ?? '', 'datasources')));
  t.true(existsSync(join(grafana.get('/var/lib/grafana/dashboards') ?? '', 'ddpm-training.json')));
  // the provisioned dashboard provider reads the folder compose mounts the dashboards at
  const provider = readFileSync(join(grafana.get('/etc/grafana/provisioning') ?? '', 'dashboards', 'ddpm.yml'), 'utf8');
  t.regex(provider, /path: \/var\/lib\/grafana\/dashboards/);
});

test('Prometheus discovers every worker service by a name compose gives it, on the port the workers serve', (t) => {
  const prometheus = readYamlMap(join(DEPLOY_ROOT, 'prometheus', 'prometheus.yml'));
  const jobs = listAt(prometheus, 'scrape_configs', 'prometheus.yml').filter(isMap);
  const workerJob = jobs.find((job) => job.job_name === 'ddpm-worker');
  const dns = listAt(workerJob ?? {}, 'dns_sd_configs', 'ddpm-worker').filter(isMap)[0];
  t.truthy(dns, 'prometheus.yml has no dns_sd_configs for the workers');
  const names = listAt(dns, 'names', 'dns_sd_configs').map(String);
  const port = String(dns.port);
  for (const [fileName, file] of [
    [FILES[0], base],
    [FILES[1], gpu],
  ] as const) {
    for (const [name, service] of services(file, fileName)) {
      const command = interpolateDefaults(JSON.stringify(service.command ?? ''));
      if (!/\bworker\b.*--connect/.test(command)) continue;
      const aliases =
        isMap(service.networks) && isMap(service.networks.default)
          ? listAt(service.networks.default, 'aliases', name).map(String)
          : [];
      t.true(
        [name, ...aliases].some((n) => names.includes(n)),
        `${fileName}: worker service ${name} is not found by Prometheus (names ${names.join(', ')})`,
      );
      t.regex(
        command,
        new RegExp(`--metrics-port[", ]+${port}\\b`),
        `${fileName}: ${name} must serve /metrics on ${port}`,
      );
      t.regex(command, /tcp:\/\/coordinator:5555/);
    }
  }
  const coordinatorJob = jobs.find((job) => job.job_name === 'ddpm-coordinator');
  t.is(JSON.stringify(coordinatorJob?.static_configs), JSON.stringify([{ targets: ['coordinator:9400'] }]));
  t.regex(
    JSON.stringify(mapAt(mapAt(base, 'services', 'compose'), 'coordinator', 'services').command),
    /"--metrics-port","9400"/,
  );
});

test('the GPU services reserve one distinct NVIDIA GPU each', (t) => {
  const ids: string[] = [];
  for (const [name, service] of services(gpu, FILES[1])) {
    const command = JSON.stringify(service.command ?? '');
    if (!command.includes('tensorflow')) continue;
    const devices = listAt(
      mapAt(mapAt(mapAt(service, 'deploy', name), 'resources', name), 'reservations', name),
      'devices',
      name,
    ).filter(isMap);
    t.is(devices.length, 1, name);
    t.is(devices[0].driver, 'nvidia');
    t.deepEqual(devices[0].capabilities, ['gpu']);
    const deviceIds = listAt(devices[0], 'device_ids', name).map(String);
    t.is(deviceIds.length, 1, `${name} reserves exactly one GPU`);
    ids.push(...deviceIds);
  }
  t.true(ids.length >= 2);
  t.is(new Set(ids).size, ids.length, 'two GPU services reserve the same GPU');
});

test('no Grafana admin password is committed: compose requires it, env.example leaves it empty', (t) => {
  const grafana = mapAt(mapAt(base, 'services', 'compose'), 'grafana', 'services');
  const password = String(mapAt(grafana, 'environment', 'grafana').GF_SECURITY_ADMIN_PASSWORD);
  t.regex(password, /^\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}$/);
  t.regex(readFileSync(join(COMPOSE_DIR, 'env.example'), 'utf8'), /^GRAFANA_ADMIN_PASSWORD=$/m);
  t.regex(readFileSync(join(COMPOSE_DIR, '.gitignore'), 'utf8'), /^\.env$/m);
  t.is(interpolateDefaults('${A:-x} $${HOSTNAME} ${B:?msg}'), 'x ${HOSTNAME} <B>');
});

test('runs and data are volumes of the coordinator; workers read data', (t) => {
  const coordinator = mapAt(mapAt(base, 'services', 'compose'), 'coordinator', 'services');
  const volumes = listAt(coordinator, 'volumes', 'coordinator').map(String);
  t.true(volumes.includes('runs:/runs'));
  t.true(volumes.some((v) => v.startsWith('data:/data')));
  t.regex(JSON.stringify(coordinator.command), /"--out","\/runs\//);
});
