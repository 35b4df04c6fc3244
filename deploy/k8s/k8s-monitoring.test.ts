// Checks of deploy/k8s/monitoring without a cluster: Prometheus and Grafana mount what kustomize generates,
// Prometheus finds the pods through the base's headless Services by names relative to its own namespace (so the
// config names no namespace), and the config passes `promtool check config` with the shipped recording rules.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEPLOY_ROOT, hasCommand, isMap, listAt, mapAt, readYamlMap } from '../test-support.ts';
import { container, find, K8S, podSpec, renderAll } from './k8s-support.ts';

const rendered = renderAll();

test('monitoring: Prometheus and Grafana mount the config maps kustomize generated', (t) => {
  const objects = rendered.monitoring;
  const configMaps = objects.filter((o) => o.kind === 'ConfigMap').map((o) => String(mapAt(o, 'metadata', 'cm').name));
  for (const deployment of ['prometheus', 'grafana']) {
    const volumes = listAt(podSpec(find(objects, 'Deployment', deployment)), 'volumes', deployment).filter(isMap);
    for (const volume of volumes.filter((v) => isMap(v.configMap))) {
      const name = isMap(volume.configMap) ? String(volume.configMap.name) : '';
      t.true(configMaps.includes(name), `${deployment} mounts ConfigMap ${name}, which kustomize did not generate`);
    }
  }
  const dashboards = objects.find(
    (o) => o.kind === 'ConfigMap' && String(mapAt(o, 'metadata', 'cm').name).startsWith('grafana-dashboards'),
  );
  t.true(isMap(dashboards?.data) && typeof dashboards.data['ddpm-training.json'] === 'string');
  const password = listAt(container(find(objects, 'Deployment', 'grafana'), 'grafana'), 'env', 'grafana')
    .filter(isMap)
    .find((e) => e.name === 'GF_SECURITY_ADMIN_PASSWORD');
  t.true(
    isMap(password?.valueFrom) && isMap(password.valueFrom.secretKeyRef),
    'the Grafana password must come from a Secret',
  );
});

test('monitoring: Prometheus loads the recording rules and the alerts; Grafana renders the HTML samples panel', (t) => {
  const objects = rendered.monitoring;
  const rules = objects.find(
    (o) => o.kind === 'ConfigMap' && String(mapAt(o, 'metadata', 'cm').name).startsWith('prometheus-rules'),
  );
  t.true(isMap(rules?.data));
  t.deepEqual(Object.keys(isMap(rules?.data) ? rules.data : {}).sort(), ['ddpm-alerts.yml', 'ddpm.yml']);
  const mounts = listAt(container(find(objects, 'Deployment', 'prometheus'), 'prometheus'), 'volumeMounts', 'p');
  t.true(mounts.filter(isMap).some((m) => m.name === 'rules' && m.mountPath === '/etc/prometheus/rules'));
  t.deepEqual(listAt(readYamlMap(join(K8S, 'monitoring', 'prometheus.yml')), 'rule_files', 'p'), ['rules/*.yml']);
  const sanitize = listAt(container(find(objects, 'Deployment', 'grafana'), 'grafana'), 'env', 'grafana')
    .filter(isMap)
    .find((e) => e.name === 'GF_PANELS_DISABLE_SANITIZE_HTML');
  t.is(sanitize?.value, 'true');
});

test('monitoring: Prometheus scrapes the headless metrics Services of the base', (t) => {
  const config = readYamlMap(join(K8S, 'monitoring', 'prometheus.yml'));
  const jobs = listAt(config, 'scrape_configs', 'prometheus.yml').filter(isMap);
  const services = rendered.cpu.filter((o) => o.kind === 'Service');
  for (const [job, service, port] of [
    ['ddpm-coordinator', 'ddpm-coordinator-metrics', 9400],
    ['ddpm-worker', 'ddpm-worker-metrics', 9401],
  ] as const) {
    const dns = listAt(jobs.find((j) => j.job_name === job) ?? {}, 'dns_sd_configs', job).filter(isMap)[0];
    // relative: resolved in Prometheus's own namespace through the pod's DNS search path
    t.deepEqual(dns?.names, [service]);
    t.is(dns?.port, port);
    const spec = mapAt(services.find((s) => mapAt(s, 'metadata', 's').name === service) ?? {}, 'spec', service);
    t.is(spec.clusterIP, 'None', `${service} must be headless so its DNS name lists every pod`);
  }
});

test('monitoring/prometheus.yml passes promtool check config (with the shipped recording rules)', (t) => {
  if (!hasCommand('promtool')) {
    t.fail('promtool is not on PATH: apt-get install -y prometheus (.ci/run does).');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-promtool-'));
  try {
    mkdirSync(join(dir, 'rules'));
    copyFileSync(join(K8S, 'monitoring', 'prometheus.yml'), join(dir, 'prometheus.yml'));
    const rulesDir = join(DEPLOY_ROOT, 'prometheus', 'rules');
    for (const file of readdirSync(rulesDir)) copyFileSync(join(rulesDir, file), join(dir, 'rules', file));
    const output = execFileSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.regex(output, /SUCCESS: \d+ rule files? found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
