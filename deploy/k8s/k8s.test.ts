// Checks of deploy/k8s without a cluster: each overlay and the monitoring kustomization render with kustomize
// (kubectl's built-in), every rendered object validates against the Kubernetes OpenAPI schemas (kubernetes-models),
// and the objects fit together: Services select the pods and ports they name, workers connect to the coordinator
// Service, the coordinator writes to its PVC and resumes, GPU workers (gpu: tensorflow, webgpu: Vulkan) request
// nvidia.com/gpu, Prometheus finds the pods through the headless Services, and its config passes
// `promtool check config`.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEPLOY_ROOT,
  hasCommand,
  isMap,
  listAt,
  mapAt,
  readYamlMap,
  renderKustomization,
  type Yaml,
  type YamlMap,
} from '../test-support.ts';

const K8S = join(DEPLOY_ROOT, 'k8s');
const rendered = {
  cpu: renderKustomization(join(K8S, 'overlays', 'cpu')),
  gpu: renderKustomization(join(K8S, 'overlays', 'gpu')),
  webgpu: renderKustomization(join(K8S, 'overlays', 'webgpu')),
  monitoring: renderKustomization(join(K8S, 'monitoring'), true),
};

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: YamlMap) => Validatable;

/** The kubernetes-models class for an apiVersion and kind (module kubernetes-models/<apiVersion>/<kind>). */
async function modelClass(apiVersion: string, kind: string): Promise<ModelClass> {
  const module = (await import(`kubernetes-models/${apiVersion}/${kind}`)) as Record<string, unknown>;
  const model = module[kind];
  if (typeof model !== 'function') throw new Error(`kubernetes-models has no ${apiVersion} ${kind}`);
  return model as ModelClass;
}

async function validateAll(objects: readonly YamlMap[]): Promise<string[]> {
  const problems: string[] = [];
  for (const object of objects) {
    const where = `${String(object.kind)} ${String(mapAt(object, 'metadata', 'object').name)}`;
    try {
      const Model = await modelClass(String(object.apiVersion), String(object.kind));
      new Model(object).validate();
    } catch (error) {
      problems.push(`${where}: ${(error as Error).message}`);
    }
  }
  return problems;
}

function find(objects: readonly YamlMap[], kind: string, name: string): YamlMap {
  const found = objects.find((o) => o.kind === kind && mapAt(o, 'metadata', kind).name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name} in the rendered manifests`);
  return found;
}

function podSpec(workload: YamlMap): YamlMap {
  return mapAt(mapAt(mapAt(workload, 'spec', 'workload'), 'template', 'spec'), 'spec', 'template');
}

function podLabels(workload: YamlMap): YamlMap {
  return mapAt(
    mapAt(mapAt(mapAt(workload, 'spec', 'workload'), 'template', 'spec'), 'metadata', 'template'),
    'labels',
    'metadata',
  );
}

function container(workload: YamlMap, name: string): YamlMap {
  const found = listAt(podSpec(workload), 'containers', 'spec')
    .filter(isMap)
    .find((c) => c.name === name);
  if (found === undefined) throw new Error(`no container ${name}`);
  return found;
}

/** The container's args with $(VAR) replaced by the literal values of its env. */
function resolvedArgs(c: YamlMap): string[] {
  const env = new Map(
    listAt(c, 'env', 'container')
      .filter(isMap)
      .filter((e) => typeof e.value === 'string')
      .map((e) => [String(e.name), String(e.value)]),
  );
  return listAt(c, 'args', 'container').map((arg) =>
    String(arg).replace(/\$\((\w+)\)/g, (whole, name: string) => env.get(name) ?? whole),
  );
}

function flag(args: readonly string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index < 0 ? undefined : args[index + 1];
}

test('the validator rejects a malformed object (the schema check is live)', async (t) => {
  const problems = await validateAll([
    { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'x' }, spec: { parallelism: 'two', template: {} } },
  ]);
  t.is(problems.length, 1);
  t.regex(problems[0], /parallelism/);
});

for (const [name, objects] of Object.entries(rendered)) {
  test(`${name}: every rendered object validates against the Kubernetes schemas`, async (t) => {
    t.true(objects.length >= 6);
    t.deepEqual(await validateAll(objects), []);
    for (const object of objects)
      t.is(
        mapAt(object, 'metadata', 'object').namespace ?? 'ddpm',
        'ddpm',
        `${String(object.kind)} outside namespace ddpm`,
      );
  });
}

/** Per worker overlay: the backend its workers run, the image they use, whether each pod gets a GPU. */
const OVERLAYS = {
  cpu: { backend: 'wasm', image: /ddpm-worker-cpu/, gpu: false },
  gpu: { backend: 'tensorflow', image: /ddpm-worker-gpu/, gpu: true },
  webgpu: { backend: 'webgpu', image: /ddpm-worker-webgpu/, gpu: true },
} as const;

for (const overlay of ['cpu', 'gpu', 'webgpu'] as const) {
  const objects = rendered[overlay];

  test(`${overlay}: the coordinator Service selects the coordinator pod and its named ports`, (t) => {
    const coordinator = find(objects, 'Job', 'ddpm-coordinator');
    const labels = podLabels(coordinator);
    const ports = listAt(container(coordinator, 'coordinator'), 'ports', 'coordinator')
      .filter(isMap)
      .map((p) => [p.name, p.containerPort]);
    for (const serviceName of ['ddpm-coordinator', 'ddpm-coordinator-metrics']) {
      const spec = mapAt(find(objects, 'Service', serviceName), 'spec', serviceName);
      for (const [key, value] of Object.entries(mapAt(spec, 'selector', serviceName)))
        t.is(labels[key], value, `${serviceName} selector ${key}`);
      for (const port of listAt(spec, 'ports', serviceName).filter(isMap))
        t.true(
          ports.some(([n]) => n === port.targetPort),
          `${serviceName} port ${String(port.targetPort)}`,
        );
    }
    const args = resolvedArgs(container(coordinator, 'coordinator'));
    t.is(flag(args, '--bind'), 'tcp://*:5555');
    t.is(flag(args, '--metrics-port'), '9400');
    t.is(flag(args, '--metrics-host'), '0.0.0.0');
  });

  test(`${overlay}: the coordinator writes its run directory to the PVC and restarts on failure`, (t) => {
    const coordinator = find(objects, 'Job', 'ddpm-coordinator');
    const spec = podSpec(coordinator);
    t.is(spec.restartPolicy, 'OnFailure');
    const claim = listAt(spec, 'volumes', 'spec')
      .filter(isMap)
      .find((v) => isMap(v.persistentVolumeClaim));
    t.truthy(claim, 'no PVC volume');
    const claimName = isMap(claim?.persistentVolumeClaim) ? String(claim.persistentVolumeClaim.claimName) : '';
    find(objects, 'PersistentVolumeClaim', claimName);
    const mount = listAt(container(coordinator, 'coordinator'), 'volumeMounts', 'coordinator')
      .filter(isMap)
      .find((m) => m.name === claim?.name);
    const out = flag(resolvedArgs(container(coordinator, 'coordinator')), '--out') ?? '';
    t.true(
      out.startsWith(`${String(mount?.mountPath)}/`),
      `--out ${out} is not on the PVC mounted at ${String(mount?.mountPath)}`,
    );
  });

  test(`${overlay}: workers form an Indexed Job, connect to the coordinator Service and are found by Prometheus`, (t) => {
    const workers = find(objects, 'Job', 'ddpm-worker');
    const spec = mapAt(workers, 'spec', 'ddpm-worker');
    t.is(spec.completionMode, 'Indexed');
    t.is(spec.parallelism, spec.completions);
    const args = resolvedArgs(container(workers, 'worker'));
    t.is(flag(args, '--connect'), 'tcp://ddpm-coordinator:5555');
    t.is(flag(args, '--backend'), OVERLAYS[overlay].backend);
    t.is(flag(args, '--metrics-port'), '9401');
    t.regex(flag(args, '--name') ?? '', /\$\(WORKER_INDEX\)/);
    const index = listAt(container(workers, 'worker'), 'env', 'worker')
      .filter(isMap)
      .find((e) => e.name === 'WORKER_INDEX');
    t.regex(JSON.stringify(index?.valueFrom), /job-completion-index/);
    const selector = mapAt(mapAt(find(objects, 'Service', 'ddpm-worker-metrics'), 'spec', 'svc'), 'selector', 'svc');
    for (const [key, value] of Object.entries(selector)) t.is(podLabels(workers)[key], value);
  });

  test(`${overlay}: GPU limits only in the GPU overlays, images per overlay`, (t) => {
    const workers = find(objects, 'Job', 'ddpm-worker');
    const worker = container(workers, 'worker');
    const limits = isMap(worker.resources) && isMap(worker.resources.limits) ? worker.resources.limits : {};
    if (OVERLAYS[overlay].gpu) {
      t.is(limits['nvidia.com/gpu'], 1);
      t.true(
        listAt(podSpec(workers), 'tolerations', 'spec')
          .filter(isMap)
          .some((toleration) => toleration.key === 'nvidia.com/gpu'),
      );
    } else t.false('nvidia.com/gpu' in limits, 'CPU workers must not request GPUs');
    t.regex(String(worker.image), OVERLAYS[overlay].image);
    // ddpm-worker-gpu must not match ddpm-worker-webgpu's pattern and the other way round
    t.is(/ddpm-worker-webgpu/.test(String(worker.image)), overlay === 'webgpu');
    t.regex(String(container(find(objects, 'Job', 'ddpm-coordinator'), 'coordinator').image), /ddpm-coordinator/);
  });

  test(`${overlay}: pods run as non-root and carry the Prometheus annotations of their metrics port`, (t) => {
    for (const [job, name, port] of [
      ['ddpm-coordinator', 'coordinator', '9400'],
      ['ddpm-worker', 'worker', '9401'],
    ] as const) {
      const workload = find(objects, 'Job', job);
      t.is(mapAt(podSpec(workload), 'securityContext', job).runAsNonRoot, true);
      const annotations = mapAt(
        mapAt(mapAt(mapAt(workload, 'spec', job), 'template', job), 'metadata', job),
        'annotations',
        job,
      );
      t.is(annotations['prometheus.io/scrape'], 'true');
      t.is(annotations['prometheus.io/port'], port);
      t.is(flag(resolvedArgs(container(workload, name)), '--metrics-port'), port);
      const curve = listAt(podSpec(workload), 'volumes', job)
        .filter(isMap)
        .find((v) => isMap(v.secret));
      t.is(
        isMap(curve?.secret) ? curve.secret.secretName : undefined,
        'ddpm-curve',
        'CURVE keys come from Secret ddpm-curve',
      );
    }
  });
}

test('webgpu: workers get the NVIDIA graphics capability (Vulkan ICD) and no software Vulkan fallback', (t) => {
  const worker = container(find(rendered.webgpu, 'Job', 'ddpm-worker'), 'worker');
  const env = new Map(
    listAt(worker, 'env', 'worker')
      .filter(isMap)
      .map((e) => [String(e.name), e.value]),
  );
  const caps = String(env.get('NVIDIA_DRIVER_CAPABILITIES')).split(',');
  for (const cap of ['compute', 'utility', 'graphics'])
    t.true(caps.includes(cap), `NVIDIA_DRIVER_CAPABILITIES has ${cap}`);
  t.is(env.get('VK_LOADER_DRIVERS_DISABLE'), '*lvp*');
  // the same value as the image's ENV (deploy/docker/Dockerfile, target worker-webgpu)
  const dockerfile = readFileSync(join(DEPLOY_ROOT, 'docker', 'Dockerfile'), 'utf8');
  t.is(/NVIDIA_DRIVER_CAPABILITIES=(\S+)/.exec(dockerfile)?.[1], String(env.get('NVIDIA_DRIVER_CAPABILITIES')));
  // the tensorflow overlay keeps the CUDA images' defaults
  const gpuWorker = container(find(rendered.gpu, 'Job', 'ddpm-worker'), 'worker');
  t.false(JSON.stringify(gpuWorker.env).includes('VK_LOADER_DRIVERS_DISABLE'));
});

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

test('monitoring: Prometheus scrapes the headless metrics Services of the base', (t) => {
  const config = readYamlMap(join(K8S, 'monitoring', 'prometheus.yml'));
  const jobs = listAt(config, 'scrape_configs', 'prometheus.yml').filter(isMap);
  const services = rendered.cpu.filter((o) => o.kind === 'Service');
  for (const [job, service, port] of [
    ['ddpm-coordinator', 'ddpm-coordinator-metrics', 9400],
    ['ddpm-worker', 'ddpm-worker-metrics', 9401],
  ] as const) {
    const dns = listAt(jobs.find((j) => j.job_name === job) ?? {}, 'dns_sd_configs', job).filter(isMap)[0];
    t.deepEqual(dns?.names, [`${service}.ddpm.svc`]);
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

test('a Yaml value helper sanity check: resolvedArgs substitutes env values only', (t) => {
  const c: Record<string, Yaml> = {
    args: ['--a', '$(X)', '$(Y)'],
    env: [
      { name: 'X', value: '1' },
      { name: 'Y', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ],
  };
  t.deepEqual(resolvedArgs(c), ['--a', '1', '$(Y)']);
});
