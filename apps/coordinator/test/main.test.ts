import test from 'ava';
import { main } from '../src/main.ts';

test('the coordinator entry point runs `ddpm coordinator`: a bad flag value exits 2', async (t) => {
  t.is(await main(['node', 'ddpm-coordinator', '--min-workers', 'zero']), 2);
});
