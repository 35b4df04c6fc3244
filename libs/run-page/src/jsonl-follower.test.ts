import test from 'ava';
import { appendFileSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonlFollower, parseJsonLines } from './jsonl-follower.mjs';

const dir = mkdtempSync(join(tmpdir(), 'ddpm-jsonl-follower-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (): string => join(dir, `f${n++}.jsonl`);

test('reads only complete lines, and the rest of a line once it is finished', async (t) => {
  const path = file();
  writeFileSync(path, '{"step":1,"loss":0.9}\n{"step":2,"lo');
  const follower = new JsonlFollower(path);
  t.deepEqual((await follower.read()).records, [{ step: 1, loss: 0.9 }]);
  t.deepEqual((await follower.read()).records, [], 'nothing new: the half line waits');
  appendFileSync(path, 'ss":0.8}\n{"step":3,"loss":0.7}\n');
  t.deepEqual((await follower.read()).records, [
    { step: 2, loss: 0.8 },
    { step: 3, loss: 0.7 },
  ]);
});

test('a missing file reads as nothing; a file that shrank (a resumed run rewrote it) resets', async (t) => {
  const path = file();
  const follower = new JsonlFollower(path);
  t.deepEqual(await follower.read(), { records: [], reset: false, exists: false });
  writeFileSync(path, '{"step":1}\n{"step":2}\n');
  t.is((await follower.read()).records.length, 2);
  writeFileSync(path, '{"step":1}\n');
  t.deepEqual(await follower.read(), { records: [{ step: 1 }], reset: true, exists: true });
  unlinkSync(path);
  t.deepEqual(await follower.read(), { records: [], reset: true, exists: false });
});

test('reads at most maxReadBytes per call: a long file is caught up over several calls', async (t) => {
  const path = file();
  const lines = Array.from({ length: 100 }, (_, i) => JSON.stringify({ step: i + 1, loss: 1 / (i + 1) }));
  writeFileSync(path, `${lines.join('\n')}\n`);
  const follower = new JsonlFollower(path, { maxReadBytes: 256 });
  const first = await follower.read();
  t.true(first.records.length > 0 && first.records.length < 20, `${first.records.length} records in 256 bytes`);
  let total = first.records.length;
  for (let i = 0; i < 100 && total < 100; i++) total += (await follower.read()).records.length;
  t.is(total, 100);
});

test('damaged lines and non-objects are skipped', (t) => {
  t.deepEqual(parseJsonLines(['{"a":1}', 'nonsense', '[1,2]', 'null', '', '{"b":2}']), [{ a: 1 }, { b: 2 }]);
});
