import { execFileSync } from 'node:child_process';

/** An emulated cluster: `hosts` network namespaces on one bridge, each link shaped to `linkGbps` both ways. */
export interface NetworkPlan {
  /** Namespace of host i (0 is the coordinator's), to run a process in with `ip netns exec`. */
  readonly namespaces: readonly string[];
  /** IPv4 address of host i on the bridge. */
  readonly addresses: readonly string[];
  /** The `ip`/`tc` command lines that build it, in order. */
  readonly setup: readonly (readonly string[])[];
  /** The command lines that remove everything setup made (deleting a namespace deletes its links and qdiscs). */
  readonly teardown: readonly (readonly string[])[];
}

/**
 * Plans `hosts` namespaces `ddpm-ID-hI` plus a switch namespace `ddpm-ID-sw` holding a bridge, so nothing is added to
 * the caller's namespace. Each host's veth is shaped by a token bucket (tc tbf) on both ends: egress of the host end
 * limits what it sends, egress of the bridge end what it receives, as a full-duplex NIC of `linkGbps` would.
 * Precondition: `id` is short and unique among concurrent runs (a pid), 1 <= hosts <= 250.
 */
export function planEmulatedNetwork(id: string, hosts: number, linkGbps: number): NetworkPlan {
  if (!Number.isInteger(hosts) || hosts < 1 || hosts > 250)
    throw new RangeError(`an emulated cluster has 1 to 250 hosts, not ${hosts}`);
  if (!(linkGbps > 0)) throw new RangeError(`the link speed must be above 0 Gbit/s, not ${linkGbps}`);
  const subnet = `10.${200 + (hashId(id) % 50)}.${hashId(id) % 250}`;
  const sw = `ddpm-${id}-sw`;
  const namespaces = Array.from({ length: hosts }, (_, i) => `ddpm-${id}-h${i}`);
  const addresses = namespaces.map((_, i) => `${subnet}.${i + 1}`);
  const shape = tbf(linkGbps);
  const setup: string[][] = [
    ['ip', 'netns', 'add', sw],
    ['ip', '-n', sw, 'link', 'add', 'br0', 'type', 'bridge'],
    ['ip', '-n', sw, 'link', 'set', 'br0', 'up'],
  ];
  namespaces.forEach((ns, i) => {
    const port = `h${i}`;
    setup.push(
      ['ip', 'netns', 'add', ns],
      ['ip', '-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', sw],
      ['ip', '-n', sw, 'link', 'set', port, 'master', 'br0', 'up'],
      ['ip', '-n', ns, 'addr', 'add', `${addresses[i]}/24`, 'dev', 'eth0'],
      ['ip', '-n', ns, 'link', 'set', 'eth0', 'up'],
      ['ip', '-n', ns, 'link', 'set', 'lo', 'up'],
      ['ip', 'netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'eth0', 'root', ...shape],
      ['ip', 'netns', 'exec', sw, 'tc', 'qdisc', 'add', 'dev', port, 'root', ...shape],
    );
  });
  const teardown = [...namespaces, sw].map((ns) => ['ip', 'netns', 'del', ns]);
  return { namespaces, addresses, setup, teardown };
}

/**
 * tbf arguments for `gbps`: the bucket holds 10 ms at the rate but at least 256 KiB, so a 64 KiB GSO segment always
 * fits; packets wait up to 200 ms in the queue before tbf drops them (TCP then backs off, as on a congested NIC).
 */
export function tbf(gbps: number): string[] {
  const bitsPerSecond = Math.round(gbps * 1e9);
  const burstBytes = Math.max(256 * 1024, Math.round(bitsPerSecond / 8 / 100));
  return ['tbf', 'rate', `${bitsPerSecond}bit`, 'burst', String(burstBytes), 'latency', '200ms'];
}

/** Runs `plan.setup`; on a failure removes what was made and throws naming the command and what it needs. */
export function buildEmulatedNetwork(plan: NetworkPlan): void {
  for (const command of plan.setup) {
    try {
      execFileSync(command[0], command.slice(1), { stdio: 'pipe' });
    } catch (error) {
      removeEmulatedNetwork(plan);
      const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
      throw new Error(
        `could not build the emulated network: \`${command.join(' ')}\` failed${stderr ? ` (${stderr})` : ''}. It needs root (CAP_NET_ADMIN), iproute2 and the veth, bridge and sch_tbf kernel modules.`,
      );
    }
  }
}

/** Runs `plan.teardown`, ignoring namespaces that are already gone. Safe to call twice. */
export function removeEmulatedNetwork(plan: NetworkPlan): void {
  for (const command of plan.teardown) {
    try {
      execFileSync(command[0], command.slice(1), { stdio: 'pipe' });
    } catch {
      // already gone (or never made)
    }
  }
}

function hashId(id: string): number {
  let h = 0;
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h;
}
