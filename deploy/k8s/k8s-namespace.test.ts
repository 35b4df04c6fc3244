// The namespace lifecycle of deploy/k8s: `kubectl delete -k` deletes exactly what the kustomization renders, so an
// overlay (or monitoring) must render no Namespace and no PersistentVolumeClaim. Deleting a run then keeps the
// namespace with the user's Secrets and the monitoring stack, and the run directory. Those live in
// deploy/k8s/namespace, applied once, and everything else lands in the namespace it creates. The monitoring
// Prometheus config names no namespace. Before issue 15 the base rendered the Namespace (and the PVC), so
// `kubectl delete -k deploy/k8s/overlays/gpu` deleted the namespace and everything in it.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEPLOY_ROOT, listFiles, mapAt, repoPath } from '../test-support.ts';
import { K8S, renderAll } from './k8s-support.ts';

const rendered = renderAll();
/** Kinds that hold what must outlive one training run. */
const LONG_LIVED = ['Namespace', 'PersistentVolumeClaim', 'Secret'];

for (const name of ['cpu', 'gpu', 'webgpu', 'monitoring'] as const) {
  test(`kubectl delete -k ${name === 'monitoring' ? 'monitoring' : `overlays/${name}`} deletes no Namespace, PVC or Secret`, (t) => {
    const deleted = rendered[name].map((o) => `${String(o.kind)} ${String(mapAt(o, 'metadata', 'o').name)}`);
    t.true(deleted.length >= 2, deleted.join(', '));
    for (const object of rendered[name])
      t.false(
        LONG_LIVED.includes(String(object.kind)),
        `${name} renders ${String(object.kind)} ${String(mapAt(object, 'metadata', 'o').name)}: kubectl delete -k would delete it`,
      );
  });
}

test('deploy/k8s/namespace holds the Namespace and the run directory PVC, and the others land in that namespace', (t) => {
  const objects = rendered.namespace;
  const namespace = objects.find((o) => o.kind === 'Namespace');
  const name = String(mapAt(namespace ?? {}, 'metadata', 'Namespace').name);
  t.is(name, 'ddpm');
  const pvc = objects.find((o) => o.kind === 'PersistentVolumeClaim');
  t.is(mapAt(pvc ?? {}, 'metadata', 'pvc').name, 'ddpm-runs');
  t.is(mapAt(pvc ?? {}, 'metadata', 'pvc').namespace, name);
  for (const group of ['cpu', 'gpu', 'webgpu', 'monitoring'] as const)
    for (const object of rendered[group])
      t.is(
        mapAt(object, 'metadata', 'object').namespace,
        name,
        `${group}: ${String(object.kind)} is not in the namespace deploy/k8s/namespace creates`,
      );
});

test('no Prometheus config or manifest under deploy/k8s hard-codes the namespace in a DNS name', (t) => {
  const files = listFiles(K8S, ['.yml', '.yaml']);
  t.true(files.length >= 10);
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('#'))
      .join('\n');
    t.notRegex(text, /\.ddpm\.svc\b/, `${repoPath(file)} names the namespace in a DNS name`);
  }
  const prometheus = readFileSync(join(K8S, 'monitoring', 'prometheus.yml'), 'utf8');
  t.notRegex(prometheus, /^\s*namespaces:/m);
  t.notRegex(prometheus, /names: \[[^\]]*\.[^\]]*\]/, 'dns_sd names must be relative (no dots)');
});

test('the lifecycle is documented: apply the namespace first; deleting an overlay keeps it', (t) => {
  const readme = readFileSync(join(DEPLOY_ROOT, 'README.md'), 'utf8');
  t.regex(readme, /kubectl apply -k deploy\/k8s\/namespace/);
  t.regex(readme, /kubectl delete -k deploy\/k8s\/namespace/);
  const base = readFileSync(join(K8S, 'base', 'kustomization.yaml'), 'utf8');
  t.regex(base, /deploy\/k8s\/namespace/);
  t.notRegex(base, /^\s+- (namespace|runs-pvc)\.yaml$/m);
});
