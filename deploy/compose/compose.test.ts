// Static checks of the compose files (no Docker engine here): build contexts, Dockerfiles and targets exist,
// bind-mounted paths exist, named volumes are declared, Prometheus finds the workers by the names compose gives
// them, GPU services reserve distinct GPUs (the Vulkan ones with the `graphics` capability the Vulkan driver needs),
// and Grafana's admin password has no committed default.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { DEPLOY_ROOT, isMap, listAt, mapAt, readYamlMap, type YamlMap } from '../test-support.ts';

const COMPOSE_DIR = join(DEPLOY_ROOT, 'compose');
const FILES = ['compose.yaml', 'compose.gpu.yaml', 'compose.webgpu.yaml'] as const;
const base = readYamlMap(join(COMPOSE_DIR, 'compose.yaml'));
const gpu = readYamlMap(join(COMPOSE_DIR, 'compose.gpu.yaml'));
const webgpu = readYamlMap(join(COMPOSE_DIR, 'compose.webgpu.yaml'));
const ALL: readonly (readonly [string, YamlMap])[] = [
  [FILES[0], base],
  [FILES[1], gpu],
  [FILES[2], webgpu],
];

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

for (const [fileName, file] of ALL) {
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
        const [source] = interpolateDefaults(String(volume)).split(':');
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
  // prometheus.yml loads rules/*.yml from that mount: the recording rules and the alerts
  const ruleFiles = listAt(
    readYamlMap(join(prometheus.get('/etc/prometheus') ?? '', 'prometheus.yml')),
    'rule_files',
    'p',
  );
  t.deepEqual(ruleFiles, ['rules/*.yml']);
  for (const file of ['ddpm.yml', 'ddpm-alerts.yml'])
    t.true(existsSync(join(prometheus.get('/etc/prometheus') ?? '', 'rules', file)), file);
  const grafana = mounts('grafana');
  t.true(existsSync(join(grafana.get('/etc/grafana/provisioning') ?? '', 'datasources')));
  t.true(existsSync(join(grafana.get('/var/lib/grafana/dashboards') ?? '', 'ddpm-training.json')));
  // the provisioned dashboard provider reads the folder compose mounts the dashboards at
  const provider = readFileSync(join(grafana.get('/etc/grafana/provisioning') ?? '', 'dashboards', 'ddpm.yml'), 'utf8');
  t.regex(provider, /path: \/var\/lib\/grafana\/dashboards/);
});

test('Grafana renders HTML text panels unsanitised (the newest-samples panel is an <img> of the run page)', (t) => {
  const grafana = mapAt(mapAt(base, 'services', 'compose'), 'grafana', 'services');
  t.is(mapAt(grafana, 'environment', 'grafana').GF_PANELS_DISABLE_SANITIZE_HTML, 'true');
  t.regex(readFileSync(join(COMPOSE_DIR, 'compose.yaml'), 'utf8'), /Newest samples[\s\S]*sanitises text-panel HTML/);
});

test('Prometheus discovers every worker service by a name compose gives it, on the port the workers serve', (t) => {
  const prometheus = readYamlMap(join(DEPLOY_ROOT, 'prometheus', 'prometheus.yml'));
  const jobs = listAt(prometheus, 'scrape_configs', 'prometheus.yml').filter(isMap);
  const workerJob = jobs.find((job) => job.job_name === 'ddpm-worker');
  const dns = listAt(workerJob ?? {}, 'dns_sd_configs', 'ddpm-worker').filter(isMap)[0];
  t.truthy(dns, 'prometheus.yml has no dns_sd_configs for the workers');
  const names = listAt(dns, 'names', 'dns_sd_configs').map(String);
  const port = String(dns.port);
  for (const [fileName, file] of ALL) {
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

/** The one device reservation of a GPU service. */
function gpuReservation(service: YamlMap, name: string): YamlMap {
  const devices = listAt(
    mapAt(mapAt(mapAt(service, 'deploy', name), 'resources', name), 'reservations', name),
    'devices',
    name,
  ).filter(isMap);
  if (devices.length !== 1) throw new Error(`${name} must reserve exactly one device entry`);
  return devices[0];
}

/** The value of `flag` in a service's command list. */
function commandFlag(service: YamlMap, flag: string): string | undefined {
  const command = Array.isArray(service.command) ? service.command.map(String) : [];
  const index = command.indexOf(flag);
  return index < 0 ? undefined : interpolateDefaults(command[index + 1]);
}

/** The build target and image name of a service (after a YAML merge key). */
function buildTarget(service: YamlMap): string {
  return isMap(service.build) ? String(service.build.target) : '';
}

for (const [fileName, file, backend, target, capabilities] of [
  [FILES[1], gpu, 'tensorflow', 'worker-gpu', ['gpu']],
  // `graphics` makes the NVIDIA Container Toolkit mount the Vulkan ICD; Docker passes the listed NVIDIA capabilities
  // on as NVIDIA_DRIVER_CAPABILITIES, so compute and utility must be listed too
  [FILES[2], webgpu, 'webgpu', 'worker-webgpu', ['gpu', 'compute', 'utility', 'graphics']],
] as const) {
  test(`${fileName}: the GPU services reserve one distinct NVIDIA GPU each, on ${target} with --backend ${backend}`, (t) => {
    const ids: string[] = [];
    for (const [name, service] of services(file, fileName)) {
      if (service.deploy === undefined) {
        t.not(commandFlag(service, '--backend'), backend, `${name} runs --backend ${backend} without a GPU`);
        continue;
      }
      t.is(commandFlag(service, '--backend'), backend, name);
      t.is(buildTarget(service), target, name);
      t.regex(String(service.image), new RegExp(`-${target}:`), name);
      const device = gpuReservation(service, name);
      t.is(device.driver, 'nvidia');
      t.deepEqual(device.capabilities, [...capabilities]);
      const deviceIds = listAt(device, 'device_ids', name).map(String);
      t.is(deviceIds.length, 1, `${name} reserves exactly one GPU`);
      ids.push(...deviceIds);
    }
    t.true(ids.length >= 2);
    t.deepEqual(
      ids,
      ids.map((_, i) => String(i)),
      'GPU services reserve GPUs 0, 1, 2, ... once each',
    );
  });
}

test("compose.webgpu.yaml: the reserved NVIDIA capabilities are the image's; lavapipe is hidden from GPU workers", (t) => {
  const dockerfile = readFileSync(join(DEPLOY_ROOT, 'docker', 'Dockerfile'), 'utf8');
  const imageCaps = /NVIDIA_DRIVER_CAPABILITIES=(\S+)/.exec(dockerfile)?.[1].split(',') ?? [];
  for (const [name, service] of services(webgpu, FILES[2])) {
    if (commandFlag(service, '--backend') !== 'webgpu') continue;
    const reserved = listAt(gpuReservation(service, name), 'capabilities', name)
      .map(String)
      .filter((c) => c !== 'gpu');
    t.deepEqual([...reserved].sort(), [...imageCaps].sort(), `${name}: capabilities vs the image's ENV`);
    // without it, a container that did not get the NVIDIA Vulkan driver would train on Mesa's software driver
    const environment = isMap(service.environment) ? service.environment : {};
    t.is(environment.VK_LOADER_DRIVERS_DISABLE, '*lvp*', name);
    t.is(
      commandFlag(service, '--name'),
      `webgpu${String(listAt(gpuReservation(service, name), 'device_ids', name)[0])}`,
    );
  }
});

test('no Grafana admin password is committed: compose requires it, env.example leaves it empty', (t) => {
  const grafana = mapAt(mapAt(base, 'services', 'compose'), 'grafana', 'services');
  const password = String(mapAt(grafana, 'environment', 'grafana').GF_SECURITY_ADMIN_PASSWORD);
  t.regex(password, /^\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}$/);
  t.regex(readFileSync(join(COMPOSE_DIR, 'env.example'), 'utf8'), /^GRAFANA_ADMIN_PASSWORD=$/m);
  t.regex(readFileSync(join(COMPOSE_DIR, '.gitignore'), 'utf8'), /^\.env$/m);
  t.is(interpolateDefaults('${A:-x} $${HOSTNAME} ${B:?msg}'), 'x ${HOSTNAME} <B>');
});

test('runs is a volume of the coordinator; data is a bind mount of a host folder the user fills', (t) => {
  const coordinator = mapAt(mapAt(base, 'services', 'compose'), 'coordinator', 'services');
  const volumes = listAt(coordinator, 'volumes', 'coordinator').map((v) => interpolateDefaults(String(v)));
  t.true(volumes.includes('runs:/runs'));
  t.true(volumes.includes('./data:/data:ro'), 'the data mount is the host folder ./data (DDPM_DATA_DIR)');
  t.regex(JSON.stringify(coordinator.command), /"--out","\/runs\//);
});
