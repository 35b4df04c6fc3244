// What the compose files expose and how workers are named: only Grafana and Prometheus are published, on
// 127.0.0.1 (they are admin surfaces), Prometheus cannot be stopped over HTTP (no --web.enable-lifecycle), every
// worker has a fixed --name that survives a recreate (not the container id), and datasets come from a host folder
// the user fills (not an empty named volume). Each check below failed on the files before issue 15.
import test from 'ava';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEPLOY_ROOT, isMap, listAt, mapAt, readYamlMap, type YamlMap } from '../test-support.ts';

const COMPOSE_DIR = join(DEPLOY_ROOT, 'compose');
const FILES = ['compose.yaml', 'compose.gpu.yaml', 'compose.webgpu.yaml'] as const;
const parsed = FILES.map((name) => [name, readYamlMap(join(COMPOSE_DIR, name))] as const);

function services(file: YamlMap, name: string): [string, YamlMap][] {
  return Object.entries(mapAt(file, 'services', name)).map(([key, value]) => {
    if (!isMap(value)) throw new Error(`${name}: service ${key} must be a mapping`);
    return [key, value];
  });
}

/** The value of `flag` in a service's command list, or undefined. */
function commandFlag(service: YamlMap, flag: string): string | undefined {
  const command = Array.isArray(service.command) ? service.command.map(String) : [];
  const index = command.indexOf(flag);
  return index < 0 ? undefined : command[index + 1];
}

/** Host address of a short-syntax port mapping: `127.0.0.1:${P:-9090}:9090` -> 127.0.0.1; `9090:9090` -> ''. */
function publishedHost(mapping: string): string {
  const withoutVars = mapping.replace(/\$\{[^}]*\}/g, 'VAR');
  const parts = withoutVars.split(':');
  return parts.length >= 3 ? parts.slice(0, -2).join(':') : '';
}

test('publishedHost reads the host address of a port mapping (the check below is live)', (t) => {
  t.is(publishedHost('127.0.0.1:${PROMETHEUS_PORT:-9090}:9090'), '127.0.0.1');
  t.is(publishedHost('${PROMETHEUS_PORT:-9090}:9090'), '');
  t.is(publishedHost('3000:3000'), '');
});

test('only Grafana and Prometheus publish ports, and only on 127.0.0.1', (t) => {
  for (const [fileName, file] of parsed) {
    for (const [name, service] of services(file, fileName)) {
      const ports = listAt(service, 'ports', name).map(String);
      if (ports.length === 0) continue;
      t.true(['grafana', 'prometheus'].includes(name), `${fileName}: ${name} publishes ${ports.join(', ')}`);
      for (const port of ports)
        t.is(publishedHost(port), '127.0.0.1', `${fileName}: ${name} publishes ${port} on every interface`);
    }
  }
});

test('Prometheus runs without --web.enable-lifecycle (no /-/quit or /-/reload over HTTP)', (t) => {
  const prometheus = mapAt(mapAt(parsed[0][1], 'services', 'compose.yaml'), 'prometheus', 'services');
  const command = listAt(prometheus, 'command', 'prometheus').map(String);
  t.true(command.some((arg) => arg.startsWith('--config.file=')));
  t.false(command.includes('--web.enable-lifecycle'));
  t.false(command.some((arg) => arg.startsWith('--web.enable-admin-api')));
});

test('every worker service has a fixed, unique --name (not the container id) and the alias Prometheus finds', (t) => {
  const names: string[] = [];
  for (const [fileName, file] of parsed) {
    for (const [name, service] of services(file, fileName)) {
      const command = JSON.stringify(service.command ?? '');
      if (!command.includes('--connect')) continue;
      t.notRegex(command, /HOSTNAME/, `${fileName}: ${name} takes its name from the container`);
      const workerName = commandFlag(service, '--name') ?? '';
      t.regex(workerName, /^[a-z]+\d+$/, `${fileName}: ${name} has --name ${workerName}`);
      names.push(workerName);
      const networks = isMap(service.networks) ? service.networks : {};
      const defaults = isMap(networks.default) ? networks.default : {};
      // services merged from an x- block carry the alias through the merge key
      t.true(
        listAt(defaults, 'aliases', name).includes('worker'),
        `${fileName}: ${name} lacks the network alias worker`,
      );
    }
  }
  t.true(names.length >= 4 + 4 + 4, `${names.length} worker services`);
  t.is(new Set(names).size, names.length, `duplicate worker names: ${names.join(', ')}`);
});

test('no service scales by --scale any more: the docs name the profiles instead', (t) => {
  const readme = readFileSync(join(DEPLOY_ROOT, 'README.md'), 'utf8');
  for (const [fileName] of parsed)
    t.notRegex(
      readFileSync(join(COMPOSE_DIR, fileName), 'utf8'),
      /docker compose .*--scale/,
      `${fileName} still suggests --scale`,
    );
  t.notRegex(readme, /docker compose .*--scale/);
  t.regex(readme, /--profile 4cpu/);
});

test('datasets come from a host folder the user fills: no named data volume; the default folder exists', (t) => {
  const volumes = isMap(parsed[0][1].volumes) ? Object.keys(parsed[0][1].volumes) : [];
  t.false(volumes.includes('data'), 'an empty named volume `data` cannot be filled by the user');
  for (const [fileName, file] of parsed) {
    const text = readFileSync(join(COMPOSE_DIR, fileName), 'utf8');
    t.notRegex(text, /^\s+- data:\/data/m, `${fileName} mounts the named volume data`);
    t.true(
      services(file, fileName).some(([, s]) =>
        listAt(s, 'volumes', 's').some((v) => String(v) === '${DDPM_DATA_DIR:-./data}:/data:ro'),
      ) || fileName === 'compose.yaml',
      `${fileName} mounts DDPM_DATA_DIR at /data`,
    );
  }
  t.regex(
    readFileSync(join(COMPOSE_DIR, 'compose.yaml'), 'utf8'),
    /&data-mount \$\{DDPM_DATA_DIR:-\.\/data\}:\/data:ro/,
  );
  const folder = resolve(COMPOSE_DIR, 'data');
  t.true(existsSync(folder) && statSync(folder).isDirectory());
  t.regex(readFileSync(join(folder, 'README.md'), 'utf8'), /DDPM_DATA=\/data\//);
  t.regex(readFileSync(join(COMPOSE_DIR, 'env.example'), 'utf8'), /^DDPM_DATA_DIR=/m);
});
