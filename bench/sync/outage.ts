/**
 * Issue 9's figures on the same link: two headless peers (`vault-peers run`,
 * no vault), each in its namespace, connected. Timed from the harness's
 * clock to the line each peer prints when its status changes.
 *
 * - A silent outage: an nftables rule drops every packet both ways for
 *   `outageSeconds` (no interface changes, nothing closes), then goes; from
 *   the restore until both print `connected` again. Also when each noticed.
 * - kill -9 of B: until A prints that B is gone.
 * - B killed, down 2 s, restarted with its own redial of A turned off: from
 *   B's start until A (the survivor, which must redial) prints `connected`.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_REDIAL } from '../../src/core/link/redial-schedule';
import { now, sleep, type Context } from './context';
import { since } from './netns';
import type { Peer } from './tool';
import { VaultPeers } from './vault-peers';

/**
 * How long a connection lives before each cut or kill: past the stable time,
 * so its drop is redialled as a drop of an established connection (at once,
 * then quick attempts). A connection that drops sooner counts as a flapping
 * peer and backs off instead, which is not what these figures are about.
 */
const SETTLE_MS = DEFAULT_REDIAL.stableAfterMs + 1_000;

export interface OutageResults {
  readonly noticedMs: number[];
  readonly backMs: number[];
  readonly killNoticedMs: number[];
  readonly survivorRedialMs: number[];
}

export async function outage(ctx: Context): Promise<OutageResults> {
  const tool = new VaultPeers(ctx.link, ctx.logFile, false);
  const make = (name: 'a' | 'b'): Peer => ({ name, side: name === 'a' ? ctx.link.a : ctx.link.b, vault: '', home: join(ctx.work, 'outage', name, 'home') });
  const a = make('a');
  const b = make('b');
  const results: OutageResults = { noticedMs: [], backMs: [], killNoticedMs: [], survivorRedialMs: [] };
  const connected = (peer: Peer, from: number, ms = 120_000): Promise<number> =>
    tool.process(peer)!.waitForLine((t) => tool.isConnectedLine(peer, t), ms, from, 'connected line').then((l) => l.at);
  const gone = (peer: Peer, from: number, ms = 120_000): Promise<number> =>
    tool.process(peer)!.waitForLine((t) => tool.isDisconnectedLine(peer, t), ms, from, 'disconnected line').then((l) => l.at);
  try {
    await tool.prepare(a, b);
    let t = now();
    await tool.start(a);
    await tool.start(b);
    await Promise.all([connected(a, t), connected(b, t)]);
    await sleep(SETTLE_MS); // both dialled: let the duplicate connection close, and the connection become stable

    for (let run = 0; run < ctx.opts.outageRuns; run += 1) {
      const cutAt = now();
      ctx.link.cut();
      const bytesAtCut = ctx.link.bytes();
      appendFileSync(ctx.logFile, `=== outage ${run + 1}: cut at ${(cutAt / 1000).toFixed(3)}\n`);
      const noticed = Promise.all([gone(a, cutAt, ctx.opts.outageSeconds * 1000 + 60_000), gone(b, cutAt, ctx.opts.outageSeconds * 1000 + 60_000)]).catch(() => [Number.NaN, Number.NaN]);
      await sleep(ctx.opts.outageSeconds * 1000);
      const restoredAt = now();
      // A drops everything before its end of the link counts it going out, so this is B's side: its probes and redials.
      const during = since(bytesAtCut, ctx.link.bytes());
      ctx.link.restore();
      appendFileSync(ctx.logFile, `=== outage ${run + 1}: restored at ${(restoredAt / 1000).toFixed(3)}\n`);
      const [na, nb] = await noticed;
      const back = Math.max(await connected(a, Math.max(restoredAt, na!) || restoredAt, 600_000), await connected(b, Math.max(restoredAt, nb!) || restoredAt, 600_000));
      results.noticedMs.push(na! - cutAt, nb! - cutAt);
      results.backMs.push(back - restoredAt);
      ctx.log(`  outage ${run + 1}: cut noticed by A after ${Math.round(na! - cutAt)} ms, by B after ${Math.round(nb! - cutAt)} ms; ${ctx.opts.outageSeconds} s later restored, both connected ${Math.round(back - restoredAt)} ms after the restore; B sent ${during.packets} packets, ${during.bToA} B while cut`);
      await sleep(SETTLE_MS);
    }

    // Each case starts from fresh processes: a redial backoff grown during the outage would otherwise carry over
    // (seen here: 15-55 s for "only the survivor redials" right after three 60 s outages).
    const restartBoth = async (): Promise<void> => {
      await tool.stop(a);
      await tool.stop(b);
      const from = now();
      await tool.start(a);
      await tool.start(b);
      await Promise.all([connected(a, from), connected(b, from)]);
      await sleep(SETTLE_MS);
    };
    const kills = Math.max(1, ctx.opts.outageRuns);
    await restartBoth();
    for (let run = 0; run < kills; run += 1) {
      const killedAt = now();
      await tool.stop(b, 'SIGKILL');
      const noticedAt = await gone(a, killedAt, 60_000);
      results.killNoticedMs.push(noticedAt - killedAt);
      t = now();
      await tool.start(b);
      await Promise.all([connected(a, noticedAt), connected(b, t)]);
      ctx.log(`  kill -9 ${run + 1}: A noticed after ${Math.round(noticedAt - killedAt)} ms`);
      await sleep(SETTLE_MS);
    }

    for (let run = 0; run < kills; run += 1) {
      await restartBoth();
      const killedAt = now();
      await tool.stop(b, 'SIGKILL');
      await sleep(2_000);
      tool.passiveTowardsOther(b);
      const startedAt = now();
      await tool.start(b);
      // A's next `connected` after it saw B go: the new process, not the stale connection.
      const goneAt = await gone(a, killedAt, 60_000);
      const backAt = await connected(a, goneAt, 120_000);
      results.survivorRedialMs.push(backAt - startedAt);
      ctx.log(`  restart, only the survivor redials ${run + 1}: A connected ${Math.round(backAt - startedAt)} ms after B started (A saw B gone ${Math.round(goneAt - killedAt)} ms after the kill)`);
      await sleep(2_000);
    }
  } finally {
    await tool.dispose();
  }
  return results;
}
