import test from 'ava';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAllowList, readKeyPair, readPublicKey, writeKeyPair } from './curve-keys.ts';

const pair = {
  publicKey: '#N$J}@G>!&C4vv+oGn7/t4Dntr&qXd&:@)t=W?G1',
  secretKey: 'JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6',
};

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a key pair round-trips through its files, including a key that starts with #', (t) => {
  const dir = tempDir(t);
  writeKeyPair(join(dir, 'a.key'), join(dir, 'a.pub'), pair);
  t.deepEqual(readKeyPair(join(dir, 'a.key')), pair);
  t.is(readPublicKey(join(dir, 'a.pub')), pair.publicKey);
  t.is(readPublicKey(join(dir, 'a.key')), pair.publicKey, 'a key pair file also gives its public key');
  writeFileSync(join(dir, 'allow'), `# allowed workers\n${pair.publicKey}\n\n`);
  t.deepEqual([...readAllowList(join(dir, 'allow'))], [pair.publicKey]);
});

test('a secret key readable by others, a damaged key and an empty allowlist are refused with the fix', (t) => {
  const dir = tempDir(t);
  writeKeyPair(join(dir, 'a.key'), join(dir, 'a.pub'), pair);
  chmodSync(join(dir, 'a.key'), 0o644);
  t.throws(() => readKeyPair(join(dir, 'a.key')), { message: /readable by other users \(mode 644\); run chmod 600/ });
  writeFileSync(join(dir, 'bad.pub'), 'tooshort\n');
  t.throws(() => readPublicKey(join(dir, 'bad.pub')), { message: /not hold a valid public key.*ddpm keygen/ });
  writeFileSync(join(dir, 'empty'), '# nobody\n');
  t.throws(() => readAllowList(join(dir, 'empty')), { message: /holds no public key/ });
  t.throws(() => readAllowList(join(dir, 'missing')), { message: /Cannot read the allowlist/ });
  t.throws(() => writeKeyPair(join(dir, 'a.key'), join(dir, 'a2.pub'), pair), { code: 'EEXIST' });
});
