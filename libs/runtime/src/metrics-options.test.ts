import test from 'ava';
import { Command } from 'commander';
import { addMetricsOptions } from './metrics-options.ts';

test('/metrics listens on 127.0.0.1 unless --metrics-host says otherwise', (t) => {
  const parse = (args: string[]): Record<string, unknown> =>
    addMetricsOptions(new Command('x'), 9400)
      .exitOverride()
      .parse(['node', 'x', ...args])
      .opts();
  t.is(parse([]).metricsHost, '127.0.0.1');
  t.is(parse(['--metrics-host', '0.0.0.0']).metricsHost, '0.0.0.0');
});
