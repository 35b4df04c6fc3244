import test from 'ava';
import { main } from '../src/main.ts';

test('the worker entry point runs `ddpm worker`: --connect is required (exit 2)', async (t) => {
  t.is(await main(['node', 'ddpm-worker']), 2);
  t.is(await main(['node', 'ddpm-worker', '--connect', 'tcp://127.0.0.1:1', '--no-such-flag']), 2);
});
