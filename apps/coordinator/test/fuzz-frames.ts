// What the fuzz tests send: random frames, mutations of valid messages, replays and structural oddities, from a seeded
// generator so that a failure can be replayed. Shared by the coordinator's fuzz test and the peer endpoint's.
import { randomBytes } from 'node:crypto';

/** A seeded generator, so a failure can be replayed. */
export function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** One fuzz message: random frames, a mutation of a valid message, a replay, or a structural oddity. */
export function fuzzFrames(random: () => number, valid: Buffer[][]): Buffer[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const r = random();
  if (r < 0.3)
    return Array.from({ length: 1 + Math.floor(random() * 3) }, () => randomBytes(Math.floor(random() * 300)));
  if (r < 0.75) {
    const frames = pick(valid).map((frame) => Buffer.from(frame));
    const target = frames[Math.floor(random() * frames.length)];
    const flips = 1 + Math.floor(random() * 4);
    for (let k = 0; k < flips && target.length > 0; k++)
      target[Math.floor(random() * target.length)] ^= 1 << Math.floor(random() * 8);
    if (random() < 0.2) frames[0] = frames[0].subarray(0, Math.floor(random() * frames[0].length));
    if (random() < 0.1) frames.push(randomBytes(16));
    if (random() < 0.1 && frames.length > 1) frames.pop();
    return frames;
  }
  if (r < 0.95) return pick(valid);
  return [pick(valid)[0], ...Array.from({ length: 70 }, () => Buffer.alloc(0))];
}
