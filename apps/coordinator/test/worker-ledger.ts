/**
 * What the workers received and hold, rebuilt from their debug logs ('step received' and 'update applied' records of
 * WorkerCore) alone, so that tests can check the coordinator's promises without trusting its own account.
 */

/** One worker's debug log records, as parsed JSON lines. */
export interface WorkerLog {
  readonly worker: string;
  readonly records: readonly Record<string, unknown>[];
}

interface Received {
  readonly worker: string;
  readonly epoch: number;
  readonly indices: readonly number[];
}

export interface WorkerLedger {
  /** Dataset indices whose gradients entered each completed step, grouped by the steps' epoch. */
  readonly consumedByEpoch: Map<number, number[]>;
  /** Per completed step, the distinct parameter checksums the workers that applied it hold (one when in sync). */
  readonly checksumsByStep: Map<number, Set<number>>;
  /** Steps whose contributors cannot be told from the workers' records, with why. */
  readonly problems: string[];
}

/**
 * A worker contributed to step s when it received s and applied its Update. A worker that received s but applied no
 * Update of s (killed, stalled, dropped) contributed only if the Update's sample count says so: the one subset of such
 * workers whose local batches make up the difference. Anything else is reported in `problems`.
 */
export function workerLedger(logs: readonly WorkerLog[]): WorkerLedger {
  const received = new Map<number, Received[]>();
  const applied = new Map<number, Map<string, { samples: number; checksum: number }>>();
  for (const { worker, records } of logs)
    for (const r of records) {
      const step = Number(r.step);
      if (r.msg === 'step received') {
        // Sharded topology: a step whose attempt was abandoned runs again; only the worker's newest shard counts.
        const list = (received.get(step) ?? []).filter((shard) => shard.worker !== worker);
        list.push({ worker, epoch: Number(r.epoch), indices: r.indices as number[] });
        received.set(step, list);
      } else if (r.msg === 'update applied') {
        const byWorker = applied.get(step) ?? new Map<string, { samples: number; checksum: number }>();
        byWorker.set(worker, { samples: Number(r.samples), checksum: Number(r.checksum) });
        applied.set(step, byWorker);
      }
    }

  const consumedByEpoch = new Map<number, number[]>();
  const checksumsByStep = new Map<number, Set<number>>();
  const problems: string[] = [];
  for (const [step, byWorker] of [...applied].sort(([a], [b]) => a - b)) {
    checksumsByStep.set(step, new Set([...byWorker.values()].map((a) => a.checksum)));
    const samples = new Set([...byWorker.values()].map((a) => a.samples));
    if (samples.size !== 1) {
      problems.push(`step ${step}: workers applied Updates with different sample counts ${[...samples].join(', ')}`);
      continue;
    }
    const [target] = samples;
    const shards = received.get(step) ?? [];
    const contributors = shards.filter((s) => byWorker.has(s.worker));
    const missing = target - contributors.reduce((sum, s) => sum + s.indices.length, 0);
    const candidates = shards.filter((s) => !byWorker.has(s.worker));
    const fits = subsets(candidates).filter((c) => c.reduce((sum, s) => sum + s.indices.length, 0) === missing);
    if (fits.length !== 1) {
      problems.push(
        `step ${step}: the Update counts ${target} samples; the workers that applied it received ${target - missing}, and ${fits.length} combinations of the others make up the rest`,
      );
      continue;
    }
    for (const shard of [...contributors, ...fits[0]])
      consumedByEpoch.set(shard.epoch, [...(consumedByEpoch.get(shard.epoch) ?? []), ...shard.indices]);
  }
  return { consumedByEpoch, checksumsByStep, problems };
}

function subsets<T>(items: readonly T[]): T[][] {
  return items.reduce<T[][]>((all, item) => [...all, ...all.map((s) => [...s, item])], [[]]);
}
