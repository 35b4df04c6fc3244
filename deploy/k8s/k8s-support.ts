// Helpers shared by the Kubernetes checks (k8s*.test.ts): rendering the kustomizations, validating objects against
// the Kubernetes OpenAPI schemas (kubernetes-models), and reading pods, containers and args of rendered workloads.
import { join } from 'node:path';
import { DEPLOY_ROOT, isMap, listAt, mapAt, renderKustomization, type YamlMap } from '../test-support.ts';

/** Absolute path of deploy/k8s. */
export const K8S = join(DEPLOY_ROOT, 'k8s');

/** Renders the overlays, the namespace kustomization and monitoring (once per test file that imports this). */
export function renderAll(): Record<'cpu' | 'gpu' | 'webgpu' | 'namespace' | 'monitoring', YamlMap[]> {
  return {
    cpu: renderKustomization(join(K8S, 'overlays', 'cpu')),
    gpu: renderKustomization(join(K8S, 'overlays', 'gpu')),
    webgpu: renderKustomization(join(K8S, 'overlays', 'webgpu')),
    namespace: renderKustomization(join(K8S, 'namespace')),
    monitoring: renderKustomization(join(K8S, 'monitoring'), true),
  };
}

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

export async function validateAll(objects: readonly YamlMap[]): Promise<string[]> {
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

export function find(objects: readonly YamlMap[], kind: string, name: string): YamlMap {
  const found = objects.find((o) => o.kind === kind && mapAt(o, 'metadata', kind).name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name} in the rendered manifests`);
  return found;
}

export function podSpec(workload: YamlMap): YamlMap {
  return mapAt(mapAt(mapAt(workload, 'spec', 'workload'), 'template', 'spec'), 'spec', 'template');
}

export function podLabels(workload: YamlMap): YamlMap {
  return mapAt(
    mapAt(mapAt(mapAt(workload, 'spec', 'workload'), 'template', 'spec'), 'metadata', 'template'),
    'labels',
    'metadata',
  );
}

export function container(workload: YamlMap, name: string): YamlMap {
  const found = listAt(podSpec(workload), 'containers', 'spec')
    .filter(isMap)
    .find((c) => c.name === name);
  if (found === undefined) throw new Error(`no container ${name}`);
  return found;
}

/** The container's args with $(VAR) replaced by the literal values of its env. */
export function resolvedArgs(c: YamlMap): string[] {
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

export function flag(args: readonly string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index < 0 ? undefined : args[index + 1];
}
