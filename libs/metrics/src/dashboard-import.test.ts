// The dashboard imported into a Grafana whose Prometheus datasource has another name and uid than the provisioned
// one (Grafana itself is not installed here, so the import is simulated on the committed JSON): no panel, target or
// variable may name a fixed datasource uid; every reference must go through the `datasource` variable, which
// Grafana resolves to a Prometheus datasource of the importing instance.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './deploy-files.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Datasource {
  readonly name: string;
  readonly uid: string;
  readonly type: string;
}

const committed = JSON.parse(
  readFileSync(join(REPO_ROOT, 'deploy/grafana/dashboards/ddpm-training.json'), 'utf8'),
) as Json;
const VARIABLE_REF = { type: 'prometheus', uid: '${datasource}' };

/** Every `datasource` value in the JSON with its path. */
function datasourceRefs(node: Json, path = '$'): { path: string; value: Json }[] {
  if (Array.isArray(node)) return node.flatMap((v, i) => datasourceRefs(v, `${path}[${i}]`));
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([k, v]) => [
    ...(k === 'datasource' ? [{ path: `${path}.${k}`, value: v }] : []),
    ...datasourceRefs(v, `${path}.${k}`),
  ]);
}

/** The references that name a datasource other than through the `datasource` variable. */
function fixedReferences(dashboard: Json): string[] {
  return datasourceRefs(dashboard)
    .filter((r) => JSON.stringify(r.value) !== JSON.stringify(VARIABLE_REF))
    .map((r) => `${r.path} = ${JSON.stringify(r.value)}`);
}

/**
 * What Grafana does on import for this dashboard: the `datasource` variable (type datasource, query prometheus,
 * nothing pinned) takes the importing instance's default Prometheus, and `${datasource}` in every reference becomes
 * its uid. Returns the uid each reference resolves to (a fixed uid stays as written, and breaks where it is unknown).
 */
function importInto(dashboard: Json, instance: readonly Datasource[]): string[] {
  const text = JSON.stringify(dashboard);
  const parsed = JSON.parse(text) as { templating?: { list?: { type: string; name: string; query?: string }[] } };
  const variable = parsed.templating?.list?.find((v) => v.type === 'datasource' && v.name === 'datasource');
  const chosen = instance.find((d) => d.type === variable?.query);
  const imported = chosen === undefined ? text : text.replaceAll('${datasource}', chosen.uid);
  return datasourceRefs(JSON.parse(imported) as Json).map((r) =>
    typeof r.value === 'object' && r.value !== null && !Array.isArray(r.value) ? String(r.value['uid']) : '',
  );
}

test('no panel, target or variable of the committed dashboard names a fixed datasource uid', (t) => {
  t.deepEqual(fixedReferences(committed), []);
  t.true(datasourceRefs(committed).length > 40, 'every panel and target carries a datasource reference');
  t.false(JSON.stringify(committed).includes('ddpm-prometheus'), 'the provisioned uid appears nowhere');
  t.false(JSON.stringify(committed).includes('__inputs'), 'nothing to map by hand on import');
});

test('imported into a Grafana with a differently named Prometheus, every query goes to that datasource', (t) => {
  const instance = [
    { name: 'Loki', uid: 'P8E80F9AEF21F6940', type: 'loki' },
    { name: 'Mimir (team ml)', uid: 'P5DCFC7561CCDE821', type: 'prometheus' },
  ];
  const resolved = importInto(committed, instance);
  t.true(resolved.length > 40);
  t.deepEqual([...new Set(resolved)], ['P5DCFC7561CCDE821']);
});

test('the check catches a dashboard with a hard-coded datasource uid (as the old one had)', (t) => {
  const old: Json = {
    templating: { list: [] },
    panels: [{ datasource: { type: 'prometheus', uid: 'ddpm-prometheus' }, targets: [{ expr: 'ddpm_loss' }] }],
  };
  t.deepEqual(fixedReferences(old), ['$.panels[0].datasource = {"type":"prometheus","uid":"ddpm-prometheus"}']);
  t.deepEqual(importInto(old, [{ name: 'Mimir', uid: 'P1', type: 'prometheus' }]), ['ddpm-prometheus']);
});
