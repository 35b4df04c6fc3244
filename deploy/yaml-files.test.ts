// Every YAML file under deploy/ (compose, Kubernetes, Prometheus, Grafana provisioning) parses without errors or
// warnings, and so does the Grafana dashboard JSON that compose and Kubernetes mount.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEPLOY_ROOT, listFiles, parseYamlDocuments, repoPath } from './test-support.ts';

const yamlFiles = listFiles(DEPLOY_ROOT, ['.yaml', '.yml']);

test('deploy/ has the YAML files of every target', (t) => {
  const paths = yamlFiles.map(repoPath);
  for (const expected of [
    'deploy/compose/compose.yaml',
    'deploy/compose/compose.gpu.yaml',
    'deploy/compose/compose.webgpu.yaml',
    'deploy/k8s/base/kustomization.yaml',
    'deploy/k8s/overlays/webgpu/kustomization.yaml',
    'deploy/prometheus/prometheus.yml',
  ]) {
    t.true(paths.includes(expected), `${expected} is missing`);
  }
});

for (const file of yamlFiles) {
  test(`${repoPath(file)} parses`, (t) => {
    const documents = parseYamlDocuments(readFileSync(file, 'utf8'), repoPath(file));
    t.true(documents.length > 0, 'the file holds no YAML document');
  });
}

test('a YAML error is reported, not ignored (duplicate key)', (t) => {
  t.throws(() => parseYamlDocuments('a: 1\na: 2\n', 'inline'), { message: /inline/ });
});

for (const file of listFiles(join(DEPLOY_ROOT, 'grafana'), ['.json'])) {
  test(`${repoPath(file)} parses as JSON`, (t) => {
    t.notThrows(() => JSON.parse(readFileSync(file, 'utf8')) as unknown);
  });
}
