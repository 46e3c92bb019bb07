/**
 * Two network namespaces joined by one veth pair: each peer in its own
 * namespace, with no route anywhere but the other one. The pair is the only
 * way between them, so its byte counters are the wire bytes of both tools,
 * counted outside either. Segmentation offload is off (gso_max_segs 1) so the
 * counters see every packet with its headers, as an Ethernet link would carry
 * them; IPv6 is off on the link so router solicitations do not count.
 *
 * `cut()` drops every packet both ways with an nftables rule in A's namespace:
 * a silent outage, with no interface going down.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { onCleanup } from './cleanup';

export interface Side {
  readonly ns: string;
  readonly iface: string;
  readonly address: string;
}

export interface LinkBytes {
  /** Bytes A sent to B (frames with their headers). */
  readonly aToB: number;
  readonly bToA: number;
  readonly packets: number;
}

function ip(args: string[], allowFail = false): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim() || r.error?.message}`);
  return r.stdout;
}

function nft(ns: string, script: string): void {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: script, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nft in ${ns}: ${r.stderr.trim()}`);
}

/** Namespaces left by an earlier harness that died without cleaning up (kill -9): names only, for a warning. */
export function staleNamespaces(): string[] {
  if (!existsSync('/run/netns')) return [];
  return readdirSync('/run/netns').filter((name) => {
    const match = /^vpb(\d+)[ab]$/.exec(name);
    return match !== null && !existsSync(`/proc/${match[1]}`);
  });
}

export class Link {
  readonly a: Side;
  readonly b: Side;
  private cutActive = false;

  constructor(tag = String(process.pid)) {
    this.a = { ns: `vpb${tag}a`, iface: `vpb${tag}a`.slice(0, 15), address: '10.203.0.1' };
    this.b = { ns: `vpb${tag}b`, iface: `vpb${tag}b`.slice(0, 15), address: '10.203.0.2' };
  }

  /** Creates both namespaces and the link; registered for removal at exit. */
  up(): void {
    const { a, b } = this;
    onCleanup(`namespace ${a.ns}`, () => void ip(['netns', 'del', a.ns], true));
    onCleanup(`namespace ${b.ns}`, () => void ip(['netns', 'del', b.ns], true));
    ip(['netns', 'add', a.ns]);
    ip(['netns', 'add', b.ns]);
    ip(['link', 'add', a.iface, 'netns', a.ns, 'type', 'veth', 'peer', 'name', b.iface, 'netns', b.ns]);
    for (const side of [a, b]) {
      const sysctl = spawnSync('ip', ['netns', 'exec', side.ns, 'sysctl', '-qw', `net.ipv6.conf.${side.iface}.disable_ipv6=1`], { encoding: 'utf8' });
      if (sysctl.status !== 0) process.stderr.write(`note: could not turn IPv6 off on ${side.iface}: ${sysctl.stderr.trim()}\n`);
      ip(['-n', side.ns, 'link', 'set', side.iface, 'gso_max_segs', '1']);
      ip(['-n', side.ns, 'addr', 'add', `${side.address}/30`, 'dev', side.iface]);
      ip(['-n', side.ns, 'link', 'set', side.iface, 'up']);
      ip(['-n', side.ns, 'link', 'set', 'lo', 'up']);
    }
  }

  /** The link's counters now, read from A's end. */
  bytes(): LinkBytes {
    const json = JSON.parse(ip(['-n', this.a.ns, '-s', '-j', 'link', 'show', 'dev', this.a.iface])) as { stats64: { tx: { bytes: number; packets: number }; rx: { bytes: number; packets: number } } }[];
    const stats = json[0]!.stats64;
    return { aToB: stats.tx.bytes, bToA: stats.rx.bytes, packets: stats.tx.packets + stats.rx.packets };
  }

  /** Drops every packet between the two, both ways, without touching the interfaces. */
  cut(): void {
    if (this.cutActive) return;
    nft(
      this.a.ns,
      `table inet vpbench {
        chain in { type filter hook input priority -300; policy accept; iifname "${this.a.iface}" drop; }
        chain out { type filter hook output priority -300; policy accept; oifname "${this.a.iface}" drop; }
      }\n`,
    );
    this.cutActive = true;
  }

  restore(): void {
    if (!this.cutActive) return;
    nft(this.a.ns, 'delete table inet vpbench\n');
    this.cutActive = false;
  }

  /** The command line that runs `argv` inside a side's namespace. */
  exec(side: Side, argv: readonly string[]): string[] {
    return ['ip', 'netns', 'exec', side.ns, ...argv];
  }
}

export function since(before: LinkBytes, after: LinkBytes): LinkBytes {
  return { aToB: after.aToB - before.aToB, bToA: after.bToA - before.bToA, packets: after.packets - before.packets };
}
