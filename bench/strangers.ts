/**
 * The stranger flood: thousands of unknown devices, each with a new node id,
 * dial a running headless peer that refuses them. Measures the peer's
 * resident memory before, during and after, and checks that a paired device
 * stays connected throughout. `npm run faults` runs it with 10,000 strangers;
 * spec/transport/strangers.spec.ts runs a small count.
 *
 * Run as a script (`node dist/bench/strangers.js '{"ticket":…}'`), this file
 * is the flood itself: a child process that dials with fresh keys.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as iroh from '@number0/iroh/index.js';
import { ALPN } from '../src/transport/control-protocol';
import { ChildPeer, ROOT, localPeer, waitForStatus } from './lib';

export interface FloodOptions {
  readonly ticket: string;
  readonly count: number;
  /** Source addresses to spread the strangers over (127.0.x.y): 1 tests the per-address budget, many the overall one. */
  readonly sources: number;
  readonly concurrency: number;
}

/** One stranger: a fresh key, one dial, the refusal, gone. */
async function stranger(target: iroh.EndpointAddr, source: string): Promise<'refused' | 'error'> {
  const builder = iroh.Endpoint.builder();
  iroh.presetMinimal(builder);
  builder.bindAddr(`${source}:0`);
  const endpoint = await builder.bind();
  try {
    const connection = await endpoint.connect(target, Array.from(Buffer.from(ALPN)));
    // Let through: say hello as a stranger would, and wait for the refusal.
    const control = await connection.openBi();
    await control.send.writeAll(Array.from(Buffer.from([0, 0, 0, 2, 0x7b, 0x7d])));
    await Promise.race([connection.closed(), new Promise((resolve) => setTimeout(resolve, 5_000))]);
    return 'refused';
  } catch {
    return 'refused'; // turned away before the handshake
  } finally {
    await endpoint.close();
  }
}

async function flood(options: FloodOptions): Promise<void> {
  const target = iroh.EndpointTicket.fromString(options.ticket).endpointAddr();
  let started = 0;
  let done = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (started < options.count) {
      const i = started;
      started += 1;
      const k = i % options.sources;
      await stranger(target, `127.0.${Math.floor(k / 250)}.${(k % 250) + 2}`);
      done += 1;
      if (done % 1_000 === 0) process.stdout.write(`${JSON.stringify({ progress: done })}\n`);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  process.stdout.write(`${JSON.stringify({ done, ms: Math.round(performance.now() - t0) })}\n`);
}

/** Starts a flood in a child process; resolves when it has finished. */
export function startFlood(options: FloodOptions): { child: ChildProcess; finished: Promise<{ done: number; ms: number }> } {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'bench', 'strangers.js'), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const finished = new Promise<{ done: number; ms: number }>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const last = out.trim().split('\n').pop() ?? '';
      if (last.includes('"done"')) resolve(JSON.parse(last) as { done: number; ms: number });
    });
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`the flood exited with ${code}`))));
  });
  return { child, finished };
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

export interface FloodReport {
  strangers: number;
  sources: number;
  seconds: number;
  rssBeforeMb: number;
  rssPeakMb: number;
  /** `settleMs` after the flood ended. */
  rssAfterMb: number;
  settleMs: number;
  /** Peak minus before. */
  rssGrowthMb: number;
  friendStayedConnected: boolean;
  /** The friend's statuses other than connected, with when (s after the watch began) and why. */
  friendDrops: string[];
}

/** A headless peer (`vault-peers run`) with one paired device, flooded by `count` strangers. */
export async function strangerFlood(count: number, sources: number, log: (line: string) => void = () => undefined, settleMs = 10_000): Promise<FloodReport> {
  const target = new ChildPeer('Target');
  const friend = await localPeer('Friend');
  try {
    const targetTicket = target.ticket();
    target.cli('join', await friend.transport.generateTicket(), '--name', 'Friend');
    await target.start();
    await friend.manager.addPeer(targetTicket, 'Target');
    const targetId = friend.transport.parseTicket(targetTicket).nodeId;
    await waitForStatus(friend.manager, targetId, 'connected');
    let drops: string[] = [];
    const t0 = performance.now();
    const watch = friend.manager.peerState$(targetId).subscribe((s) => {
      if (s.status !== 'connected' && s.status !== 'syncing') drops.push(`${((performance.now() - t0) / 1000).toFixed(1)} s: ${s.status}${s.lastError ? ` (${s.lastError})` : ''}`);
    });
    drops = [];
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const pid = target.pid!;
    const before = rssMb(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 250);
    const { finished } = startFlood({ ticket: targetTicket, count, sources, concurrency: 20 });
    const result = await finished;
    log(`  ${result.done} strangers in ${(result.ms / 1000).toFixed(1)} s; resident memory ${before.toFixed(0)} MB before, ${peak.toFixed(0)} MB at most`);
    // iroh drops an idle remote's state a minute after its last connection: wait that long for "after" in a full run.
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    clearInterval(sampler);
    const after = rssMb(pid);
    watch.unsubscribe();
    const friendStayedConnected = drops.length === 0 && friend.manager.getPeerStates().find((s) => s.peer.nodeId === targetId)?.status === 'connected';
    return { strangers: result.done, sources, seconds: result.ms / 1000, rssBeforeMb: before, rssPeakMb: peak, rssAfterMb: after, settleMs, rssGrowthMb: peak - before, friendStayedConnected, friendDrops: drops.slice(0, 10) };
  } finally {
    await target.dispose();
    await friend.close();
  }
}

if (/strangers\.js$/.test(process.argv[1] ?? '')) void flood(JSON.parse(process.argv[2]!) as FloodOptions).then(() => process.exit(0));
