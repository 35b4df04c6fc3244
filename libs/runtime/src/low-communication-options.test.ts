import test from 'ava';
import { Command } from 'commander';
import type { RunConfig } from '@ddpm/training';
import {
  addLowCommunicationOptions,
  outerFlagsNeedSyncEvery,
  syncEveryNeedsStar,
  withLowCommunication,
} from './low-communication-options.ts';

const run = { preset: 'mnist-tiny', steps: 10, batch: 4 } as RunConfig;

test('--sync-every 1 leaves the run config as synchronous training had it; H > 1 adds the outer defaults', (t) => {
  t.is(withLowCommunication(run, { syncEvery: 1 }), run);
  t.deepEqual(withLowCommunication(run, { syncEvery: 10 }).lowCommunication, {
    syncEvery: 10,
    outerLr: 0.7,
    outerMomentum: 0.9,
  });
  t.deepEqual(withLowCommunication(run, { syncEvery: 2, outerLr: 0.5, outerMomentum: 0 }).lowCommunication, {
    syncEvery: 2,
    outerLr: 0.5,
    outerMomentum: 0,
  });
});

test('the flags parse with their defaults: --sync-every 1, the outer ones absent', (t) => {
  const command = addLowCommunicationOptions(new Command()).exitOverride();
  command.parse(['node', 'x']);
  t.deepEqual(command.opts(), { syncEvery: 1 });
  command.parse(['node', 'x', '--sync-every', '10', '--outer-lr', '0.5']);
  t.like(command.opts(), { syncEvery: 10, outerLr: 0.5 });
});

test('--sync-every above 1 runs over the star only; --outer-* need --sync-every above 1', (t) => {
  t.is(syncEveryNeedsStar({ syncEvery: 10 }), undefined, 'a command without --topology');
  t.is(syncEveryNeedsStar({ syncEvery: 10, topology: 'star' }), undefined);
  t.is(syncEveryNeedsStar({ syncEvery: 1, topology: 'sharded' }), undefined);
  t.regex(
    syncEveryNeedsStar({ syncEvery: 10, topology: 'sharded' }) ?? '',
    /--sync-every 10 runs with --topology star only .* pass --topology star, or --sync-every 1/,
  );
  t.is(outerFlagsNeedSyncEvery({ syncEvery: 4, outerLr: 0.5 }), undefined);
  t.regex(
    outerFlagsNeedSyncEvery({ syncEvery: 1, outerMomentum: 0.5 }) ?? '',
    /--outer-momentum .* --sync-every 2 or more/,
  );
});
