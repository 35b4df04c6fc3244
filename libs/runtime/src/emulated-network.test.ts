import test from 'ava';
import { planEmulatedNetwork, tbf } from './emulated-network.ts';

test('a plan gives every host its namespace and address, shapes both ends of every link, and tears all down', (t) => {
  const plan = planEmulatedNetwork('4242', 3, 0.5);
  t.deepEqual(plan.namespaces, ['ddpm-4242-h0', 'ddpm-4242-h1', 'ddpm-4242-h2']);
  t.is(new Set(plan.addresses).size, 3);
  t.true(plan.addresses.every((a) => /^10\.\d+\.\d+\.[1-3]$/.test(a)));
  const shaped = plan.setup.filter((c) => c.includes('tbf'));
  t.is(shaped.length, 6, 'two token buckets per host: its send and its receive side');
  t.true(shaped.every((c) => c.join(' ').endsWith(tbf(0.5).join(' '))));
  t.deepEqual(
    plan.teardown.map((c) => c.at(-1)),
    ['ddpm-4242-h0', 'ddpm-4242-h1', 'ddpm-4242-h2', 'ddpm-4242-sw'],
    'every namespace setup adds is deleted',
  );
  const added = plan.setup.filter((c) => c[1] === 'netns' && c[2] === 'add').map((c) => c[3]);
  t.deepEqual([...added].sort(), plan.teardown.map((c) => c[3]).sort());
  // Interface names stay within Linux's 15 characters at the largest plan.
  const veths = planEmulatedNetwork('99999', 250, 1).setup.filter((c) => c.includes('veth'));
  const names = veths.flatMap((c) => [c[c.indexOf('add') + 1], c[c.indexOf('name') + 1]]);
  t.is(names.length, 500);
  t.true(names.every((n) => n.length <= 15));
});

test('tbf: rate in bit/s and a bucket that holds 10 ms but at least a 256 KiB (GSO-sized) burst', (t) => {
  t.deepEqual(tbf(1), ['tbf', 'rate', '1000000000bit', 'burst', '1250000', 'latency', '200ms']);
  t.deepEqual(tbf(0.01), ['tbf', 'rate', '10000000bit', 'burst', '262144', 'latency', '200ms']);
});

test('plans refuse impossible clusters', (t) => {
  t.throws(() => planEmulatedNetwork('1', 0, 1), { message: /1 to 250 hosts, not 0/ });
  t.throws(() => planEmulatedNetwork('1', 2, 0), { message: /above 0 Gbit\/s/ });
});
