/** One sample line of the Prometheus text format. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A parsed exposition: samples in order, family types by name, and every format problem found. */
export interface Exposition {
  readonly samples: readonly Sample[];
  readonly types: ReadonlyMap<string, string>;
  readonly problems: readonly string[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: -?\\d+)?$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/;
const SUFFIXES: Record<string, readonly string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

/**
 * Parses the Prometheus text exposition format (version 0.0.4) strictly enough to catch what Prometheus rejects:
 * malformed lines, bad names or label syntax, unparsable values, samples outside their declared family, a family
 * declared twice. Used by the tests when `promtool` is not installed. Does not: check naming conventions (see the
 * metric-definitions tests) or the OpenMetrics format.
 */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const problems: string[] = [];
  text.split('\n').forEach((line, index) => {
    const where = `line ${index + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const meta = new RegExp(`^# (HELP|TYPE) (${NAME})(?: (.*))?$`).exec(line);
      if (meta?.[1] === 'TYPE') {
        if (types.has(meta[2])) problems.push(`${where}: second TYPE for ${meta[2]}`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(meta[3] ?? ''))
          problems.push(`${where}: unknown type ${meta[3]}`);
        types.set(meta[2], meta[3] ?? '');
      }
      return;
    }
    const match = SAMPLE.exec(line);
    if (match === null) {
      problems.push(`${where}: not a sample: ${line}`);
      return;
    }
    const [, name, rawLabels = '', rawValue] = match;
    const labels: Record<string, string> = {};
    let rest = rawLabels;
    while (rest.length > 0) {
      const label = LABEL.exec(rest);
      if (label === null) {
        problems.push(`${where}: bad labels {${rawLabels}}`);
        break;
      }
      labels[label[1]] = label[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      rest = rest.slice(label[0].length);
    }
    // Prometheus parses values with Go's strconv.ParseFloat: Inf/NaN in any letter case (prom-client writes "Nan").
    const special = /^([+-]?)(inf|infinity|nan)$/i.exec(rawValue);
    const value =
      special === null
        ? Number(rawValue)
        : special[2].toLowerCase() === 'nan'
          ? NaN
          : special[1] === '-'
            ? -Infinity
            : Infinity;
    if (Number.isNaN(value) && special === null) problems.push(`${where}: bad value ${rawValue}`);
    const family = [...types.keys()].find((f) => (SUFFIXES[types.get(f) ?? ''] ?? ['']).some((s) => f + s === name));
    if (family === undefined) problems.push(`${where}: sample ${name} has no preceding TYPE line for its family`);
    samples.push({ name, labels, value });
  });
  return { samples, types, problems };
}

/** The value of the one sample named `name` whose labels include `labels`; throws when there is not exactly one. */
export function sampleValue(
  exposition: Exposition,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  const found = exposition.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length !== 1) {
    throw new Error(`sampleValue: expected one sample ${name}${JSON.stringify(labels)}, found ${found.length}.`);
  }
  return found[0].value;
}
