// Checks of deploy/k8s without a cluster: each overlay, the namespace kustomization and monitoring render with
// kustomize (kubectl's built-in), every rendered object validates against the Kubernetes OpenAPI schemas
// (kubernetes-models), and the objects fit together: Services select the pods and ports they name, workers connect
// to the coordinator Service, the coordinator writes to its PVC and resumes, GPU workers (gpu: tensorflow, webgpu:
// Vulkan) request nvidia.com/gpu. Monitoring: k8s-monitoring.test.ts; namespace lifecycle: k8s-namespace.test.ts.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEPLOY_ROOT, isMap, listAt, mapAt, type Yaml } from '../test-support.ts';
import { container, find, flag, podLabels, podSpec, renderAll, resolvedArgs, validateAll } from './k8s-support.ts';

const rendered = renderAll();

test('the validator rejects a malformed object (the schema check is live)', async (t) => {
  const problems = await validateAll([
    { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'x' }, spec: { parallelism: 'two', template: {} } },
  ]);
  t.is(problems.length, 1);
  t.regex(problems[0], /parallelism/);
});

for (const [name, objects] of Object.entries(rendered)) {
  test(`${name}: every rendered object validates against the Kubernetes schemas`, async (t) => {
    t.true(objects.length >= 2);
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
    // the PVC is in deploy/k8s/namespace (it outlives the overlay), in the same namespace as the Job
    find(rendered.namespace, 'PersistentVolumeClaim', claimName);
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
