import test from 'ava';
import { plaintextBindWarning } from './bind-warning.ts';

test('binding the network without CURVE warns: what leaks and how to turn CURVE on', (t) => {
  for (const bind of ['tcp://*:5555', 'tcp://0.0.0.0:5555', 'tcp://10.0.0.1:5555', 'tcp://eth0:5555']) {
    const warning = plaintextBindWarning(bind, false) ?? '';
    t.regex(warning, new RegExp(`^WARNING: --bind ${bind.replace(/[*.]/g, '\\$&')} is reachable from the network`));
    t.regex(warning, /Worker names, run ids, presets.*gradients cross the wire in clear/);
    t.regex(warning, /ddpm keygen --out keys --name coordinator/);
    t.regex(warning, /--curve-secret-key keys\/coordinator\.key --allow-keys FILE/);
    t.regex(warning, /--curve-key keys\/wN\.key --coordinator-key keys\/coordinator\.pub/);
  }
});

test('no warning with CURVE on, or on loopback and ipc endpoints', (t) => {
  t.is(plaintextBindWarning('tcp://*:5555', true), undefined);
  for (const bind of ['tcp://127.0.0.1:5555', 'tcp://localhost:5555', 'tcp://[::1]:5555', 'ipc:///tmp/ddpm.sock'])
    t.is(plaintextBindWarning(bind, false), undefined, bind);
});
