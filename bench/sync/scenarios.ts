/**
 * The figures of issue 13, each written once against SyncTool and run for
 * every tool. Times are performance.now() in the harness: a change starts
 * just before the harness writes it, and arrives when the other side's file
 * holds exactly the expected bytes. Bytes are the veth pair's counters, both
 * directions, frames with headers.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { since } from './netns';
import { compareTrees, describeDiff, listTree, MemorySampler, waitForFile, waitForTree } from './observe';
import { commandOf, memoryOf } from './process';
import type { Peer, SyncTool } from './tool';
import { copyTree, editOneLine, expectedOf, insertLine, loadAverage, now, peersFor, pickNotes, sleep, total, type Context } from './context';
import { incompressibleBytes, rng, sha256, type VaultFile } from './vault';

/** The column a result goes in: ours, Syncthing at its default delay, Syncthing at 1 s. */
export function variantOf(tool: SyncTool, delay: number | null = null): string {
  if (tool.info.id !== 'syncthing') return tool.info.id;
  return delay === null || delay === 10 ? 'syncthing' : `syncthing-delay-${delay}`;
}

const MB = 1e6;
const MiB = 1 << 20;

/** Per-scale time limits: generous, so a slow tool gives a slow figure instead of a failed run. */
function limit(ctx: Context, base: number, perNote = 0): number {
  return base + perNote * ctx.opts.notes;
}

async function startBoth(tool: SyncTool, a: Peer, b: Peer): Promise<number> {
  const t0 = now();
  await tool.start(a);
  await tool.start(b);
  return t0;
}

async function stopBoth(tool: SyncTool, a: Peer, b: Peer): Promise<void> {
  await tool.stop(a);
  await tool.stop(b);
}

/** Fresh state for both peers: A holds `files`, B holds nothing or the same copy. */
async function fresh(ctx: Context, tool: SyncTool, source: string, bHolds: 'nothing' | 'copy'): Promise<{ a: Peer; b: Peer }> {
  const { a, b } = peersFor(ctx, tool);
  await stopBoth(tool, a, b);
  copyTree(source, a.vault);
  if (bHolds === 'copy') copyTree(source, b.vault);
  else {
    rmSync(b.vault, { recursive: true, force: true });
    mkdirSync(b.vault, { recursive: true });
  }
  await tool.prepare(a, b);
  return { a, b };
}

/* ---------------------------------------------------------------- initial sync */

export async function initialSync(ctx: Context, tool: SyncTool, what: 'notes' | 'attachments', run: number): Promise<void> {
  const source = what === 'notes' ? ctx.notes : ctx.attachments;
  const { a, b } = await fresh(ctx, tool, source.dir, 'nothing');
  const expected = expectedOf(source.manifest.files);
  const load = loadAverage();
  const before = ctx.link.bytes();
  const t0 = await startBoth(tool, a, b);
  const pa = tool.process(a)!;
  const pb = tool.process(b)!;
  const memory = new MemorySampler([pa.pid, pb.pid]);
  try {
    const arrived = await waitForTree(b.vault, expected, [], limit(ctx, 120_000, 60));
    const synced = await tool.waitInSync(a, b, t0, limit(ctx, 60_000, 20), expected.size);
    const bytes = since(before, ctx.link.bytes());
    const usage = memory.stop();
    const diff = compareTrees(a.vault, b.vault);
    if (!diff.identical) throw new Error(`${tool.info.label}: after the initial sync the folders differ: ${describeDiff(diff)}`);
    if (/^(ip|sh)$/.test(commandOf(pa.pid) ?? '')) throw new Error(`measuring ${commandOf(pa.pid)}, not the tool: the namespace wrapper did not exec it`);
    const connectedLines = [pa.lines.find((l) => l.at >= t0 && tool.isConnectedLine(a, l.text)), pb.lines.find((l) => l.at >= t0 && tool.isConnectedLine(b, l.text))];
    const connectedAt = Math.min(...connectedLines.map((l) => l?.at ?? Number.POSITIVE_INFINITY));
    const connected = Number.isFinite(connectedAt) ? { at: connectedAt } : undefined;
    const variant = variantOf(tool);
    const prefix = what === 'notes' ? 'initial' : 'attachments';
    ctx.figures.add(`${prefix}-time`, variant, [arrived.last - t0]);
    if (what === 'notes' && connected) {
      ctx.figures.add('initial-connect', variant, [connected.at - t0]);
      ctx.figures.add('initial-after-connect', variant, [arrived.last - connected.at]);
    }
    ctx.figures.add(`${prefix}-bytes`, variant, [total(bytes)]);
    if (what === 'notes') {
      // Memory with the vault loaded, after the work: both peers, a few seconds after both said they were in sync.
      await sleep(5_000);
      const settled = [memoryOf(pa.pid)?.rss ?? 0, memoryOf(pb.pid)?.rss ?? 0];
      ctx.figures.add('memory-peak', variant, [Math.max(...usage.map((u) => u.peak)) / MB]);
      ctx.figures.add('memory-settled', variant, [Math.max(...settled) / MB]);
      ctx.figures.add('memory-private', variant, [Math.max(...usage.map((u) => u.peakAnon)) / MB]);
      ctx.figures.add('cpu-initial', variant, [usage.reduce((s, u) => s + (u.cpuSeconds ?? 0), 0)]);
    }
    ctx.log(
      `  ${tool.info.label}, ${what} into an empty peer, run ${run + 1}: all ${expected.size} identical after ${Math.round(arrived.last - t0)} ms ` +
        `(connected at ${connected ? Math.round(connected.at - t0) : '?'} ms, first file ${Math.round(arrived.first - t0)} ms, both say in sync at ${Math.round(synced - t0)} ms; ` +
        `observer resolution ${arrived.resolutionMs.toFixed(0)} ms); wire A→B ${(bytes.aToB / MB).toFixed(2)} MB, B→A ${(bytes.bToA / MB).toFixed(2)} MB; ` +
        `peak RSS ${usage.map((u) => (u.peak / MB).toFixed(0)).join(' / ')} MB, CPU ${usage.map((u) => (u.cpuSeconds ?? 0).toFixed(1)).join(' + ')} s; load ${load}`,
    );
  } finally {
    memory.stop();
    await stopBoth(tool, a, b);
  }
}

export async function identicalCopies(ctx: Context, tool: SyncTool, run: number): Promise<void> {
  const { a, b } = await fresh(ctx, tool, ctx.notes.dir, 'copy');
  const load = loadAverage();
  const before = ctx.link.bytes();
  const t0 = await startBoth(tool, a, b);
  try {
    const synced = await tool.waitInSync(a, b, t0, limit(ctx, 120_000, 30), ctx.notes.manifest.files.length);
    const bytes = since(before, ctx.link.bytes());
    const diff = compareTrees(a.vault, b.vault);
    const conflicts = listTree(a.vault).filter((p) => tool.conflictPattern.test(p)).length;
    if (!diff.identical || conflicts > 0 || diff.files !== ctx.notes.manifest.files.length) {
      throw new Error(`${tool.info.label}: two identical copies did not stay identical: ${describeDiff(diff)}, ${conflicts} conflict files, ${diff.files} files`);
    }
    ctx.figures.add('identical-time', variantOf(tool), [synced - t0]);
    ctx.figures.add('identical-bytes', variantOf(tool), [total(bytes)]);
    ctx.log(`  ${tool.info.label}, identical copies, run ${run + 1}: both say in sync after ${Math.round(synced - t0)} ms; wire A→B ${(bytes.aToB / MB).toFixed(2)} MB, B→A ${(bytes.bToA / MB).toFixed(2)} MB; load ${load}`);
  } finally {
    await stopBoth(tool, a, b);
  }
}

/* ---------------------------------------------------------------- live changes */

/**
 * Bytes per second on the link while nothing changes (heartbeats, pings):
 * the median of `seconds` one-second windows, after `settleMs` in which the
 * trailing traffic of what came before (acknowledgements, marks) dies down.
 * The median, because the idle traffic is steady with rare bursts (iroh's
 * path probes, a few KB about once a minute): a mean over a window that
 * caught one made every per-change figure look cheaper than it was.
 */
async function idleRate(ctx: Context, seconds = 10, settleMs = 3_000): Promise<number> {
  await sleep(settleMs);
  const rates: number[] = [];
  for (let i = 0; i < seconds; i += 1) {
    const before = ctx.link.bytes();
    const t = now();
    await sleep(1_000);
    rates.push((total(since(before, ctx.link.bytes())) * 1000) / (now() - t));
  }
  rates.sort((x, y) => x - y);
  return rates[Math.floor(rates.length / 2)]!;
}

/** Starts a synced pair holding identical copies (not measured): the starting point of the live figures. */
export async function livePair(ctx: Context, tool: SyncTool): Promise<{ a: Peer; b: Peer }> {
  const pair = await fresh(ctx, tool, ctx.notes.dir, 'copy');
  const t0 = await startBoth(tool, pair.a, pair.b);
  await tool.waitInSync(pair.a, pair.b, t0, limit(ctx, 120_000, 30), ctx.notes.manifest.files.length);
  return pair;
}

/** Time after arrival during which the trailing traffic of a change (acknowledgements, the index sent back) is still counted. */
export const SETTLE_MS = 2_000;

/**
 * One change on A, timed to its arrival on B, with the link's bytes from just
 * before it until SETTLE_MS after. It starts after a random pause of up to
 * `jitterMs` (seeded), so that changes do not fall in step with a tool's
 * periodic timer: Syncthing's watcher flushes on a 10 s tick, and changes
 * made at a fixed spacing would all see the same part of it.
 */
async function measuredChange(
  ctx: Context,
  baseline: number,
  jitter: () => number,
  change: () => void,
  arrived: () => Promise<number>,
): Promise<{ latency: number; net: number; gross: number }> {
  await sleep(500 + jitter());
  const before = ctx.link.bytes();
  const t = now();
  change();
  const at = await arrived();
  await sleep(SETTLE_MS);
  const gross = total(since(before, ctx.link.bytes()));
  const window = now() - t;
  return { latency: at - t, gross, net: gross - (baseline * window) / 1000 };
}

export async function liveFigures(ctx: Context, tool: SyncTool, a: Peer, b: Peer): Promise<void> {
  // Earlier figures renamed and deleted some notes: choose among those still there.
  const present = (f: VaultFile): boolean => existsSync(join(a.vault, f.path));
  for (const delay of tool.watcherDelays) {
    const variant = variantOf(tool, delay);
    if (delay !== null) {
      await tool.setWatcherDelay(a, delay);
      await tool.setWatcherDelay(b, delay);
      await tool.waitInSync(a, b, now(), 60_000, listTree(a.vault).length);
    }
    const label = `${tool.info.label}${delay !== null ? `, watcher delay ${delay} s` : ''}`;
    const baseline = await idleRate(ctx);
    ctx.log(`  ${label}: idle traffic ${baseline.toFixed(0)} B/s on the link (subtracted from the per-change bytes)`);
    ctx.figures.add('idle-rate', variant, [baseline]);
    const timeout = delay !== null ? delay * 1000 + 60_000 : 60_000;
    const random = rng(`${ctx.opts.seed}:jitter:${variant}`);
    const jitter = (): number => random() * (delay ?? 1) * 1000;

    // One-line edits, each to a different typical note (1-6 KB).
    const latencies: number[] = [];
    const nets: number[] = [];
    const grosses: number[] = [];
    for (const [i, note] of pickNotes(ctx, `edit:${variant}`, ctx.opts.edits, (f) => f.bytes >= 1_000 && f.bytes <= 6_000 && present(f)).entries()) {
      const text = editOneLine(readFileSync(join(a.vault, note.path), 'utf8'), `(edit ${i} ${sha256(`${variant}:${i}`).slice(0, 6)})`);
      const data = Buffer.from(text);
      const r = await measuredChange(
        ctx,
        baseline,
        jitter,
        () => writeFileSync(join(a.vault, note.path), data),
        () => waitForFile(join(b.vault, note.path), { bytes: data.length, sha256: sha256(data) }, timeout),
      );
      latencies.push(r.latency);
      nets.push(r.net);
      grosses.push(r.gross);
    }
    ctx.figures.add('edit-p50', variant, latencies);
    ctx.figures.add('edit-p95', variant, latencies, { show: 'p95' });
    ctx.figures.add('edit-bytes', variant, nets);
    ctx.log(`  ${label}: ${latencies.length} one-line edits, latency ${latencies.map((l) => Math.round(l)).join(', ')} ms; bytes per edit ${nets.map((n) => Math.round(n)).join(', ')} (with idle traffic: ${grosses.map((g) => Math.round(g)).join(', ')})`);

    // Renames in place (same folder, new name): no content should travel.
    const renames: number[] = [];
    const renameBytes: number[] = [];
    const renamed = pickNotes(ctx, `rename:${variant}`, ctx.opts.moves, (f) => f.bytes >= 8_000 && present(f));
    for (const [i, note] of renamed.entries()) {
      const to = join(dirname(note.path), `Renamed ${i} ${note.path.split('/').pop()!}`);
      const data = readFileSync(join(a.vault, note.path));
      const r = await measuredChange(
        ctx,
        baseline,
        jitter,
        () => renameSync(join(a.vault, note.path), join(a.vault, to)),
        async () => (await waitForTree(b.vault, new Map([[to, { bytes: data.length, sha256: sha256(data) }]]), [note.path], timeout, 2)).last,
      );
      renames.push(r.latency);
      renameBytes.push(r.net);
    }
    ctx.figures.add('rename-time', variant, renames);
    ctx.figures.add('rename-bytes', variant, renameBytes, { detail: `notes of ${Math.round(Math.min(...renamed.map((n) => n.bytes)) / 1000)}–${Math.round(Math.max(...renamed.map((n) => n.bytes)) / 1000)} KB` });
    ctx.log(`  ${label}: renames ${renames.map((l) => Math.round(l)).join(', ')} ms; bytes ${renameBytes.map((n) => Math.round(n)).join(', ')} for notes of ${renamed.map((n) => n.bytes).join(', ')} B`);

    const deletes: number[] = [];
    for (const note of pickNotes(ctx, `delete:${variant}`, ctx.opts.moves, (f) => f.bytes < 8_000 && present(f))) {
      const r = await measuredChange(
        ctx,
        baseline,
        jitter,
        () => rmSync(join(a.vault, note.path)),
        () => waitForFile(join(b.vault, note.path), null, timeout),
      );
      deletes.push(r.latency);
    }
    ctx.figures.add('delete-time', variant, deletes);
    ctx.log(`  ${label}: deletes ${deletes.map((l) => Math.round(l)).join(', ')} ms`);

    // A big attachment, written beside the vault then moved in (it appears whole, like a finished download).
    const speeds: number[] = [];
    for (let i = 0; i < ctx.opts.bigRuns; i += 1) {
      const data = incompressibleBytes(`${ctx.opts.seed}:big:${variant}:${i}`, ctx.opts.bigMiB * MiB);
      const staged = join(a.home, '..', `big-${i}.bin`);
      writeFileSync(staged, data);
      const path = `Attachments ${variant}/big-${i}.mp4`;
      mkdirSync(join(a.vault, dirname(path)), { recursive: true });
      const r = await measuredChange(
        ctx,
        baseline,
        jitter,
        () => renameSync(staged, join(a.vault, path)),
        () => waitForFile(join(b.vault, path), { bytes: data.length, sha256: sha256(data) }, 120_000 + ctx.opts.bigMiB * 2_000, 20),
      );
      speeds.push(ctx.opts.bigMiB / (r.latency / 1000));
      ctx.log(`  ${label}: ${ctx.opts.bigMiB} MiB attachment in ${Math.round(r.latency)} ms (${speeds.at(-1)!.toFixed(1)} MiB/s), ${(r.gross / MB).toFixed(1)} MB on the wire`);
      rmSync(join(a.vault, path));
      await waitForFile(join(b.vault, path), null, timeout);
    }
    ctx.figures.add('big-throughput', variant, speeds);
  }
}

/* ---------------------------------------------------------------- catch-up */

export async function catchUp(ctx: Context, tool: SyncTool, a: Peer, b: Peer, k: number, run: number): Promise<void> {
  await tool.stop(b);
  const notes = pickNotes(ctx, `catchup:${k}:${run}`, k, (f) => existsSync(join(a.vault, f.path)));
  const expected = new Map<string, { bytes: number; sha256: string }>();
  for (const [i, note] of notes.entries()) {
    const data = Buffer.from(editOneLine(readFileSync(join(a.vault, note.path), 'utf8'), `(apart ${k}/${run}/${i})`));
    writeFileSync(join(a.vault, note.path), data);
    expected.set(note.path, { bytes: data.length, sha256: sha256(data) });
  }
  await tool.settleLocal(a);
  const before = ctx.link.bytes();
  const t0 = now();
  const pb = await tool.start(b);
  const connected = pb.waitForLine((t) => tool.isConnectedLine(b, t), 120_000, t0, 'connected line');
  const arrived = await waitForTree(b.vault, expected, [], limit(ctx, 120_000, 10), 10);
  await tool.waitInSync(a, b, t0, limit(ctx, 60_000, 10), listTree(a.vault).length);
  const bytes = total(since(before, ctx.link.bytes()));
  const connectedAt = (await connected).at;
  const variant = variantOf(tool);
  ctx.figures.add(`catchup-${k}-bytes`, variant, [bytes]);
  ctx.figures.add(`catchup-${k}-first`, variant, [arrived.first - connectedAt]);
  ctx.figures.add(`catchup-${k}-time`, variant, [arrived.last - t0]);
  ctx.log(
    `  ${tool.info.label}, ${k} notes changed while apart, run ${run + 1}: B started → connected ${Math.round(connectedAt - t0)} ms, first changed note ${Math.round(arrived.first - connectedAt)} ms after connecting, ` +
      `all ${k} at ${Math.round(arrived.last - t0)} ms; ${bytes} B on the wire (${Math.round(bytes / k)} B per changed note)`,
  );
}

/* ---------------------------------------------------------------- concurrent edits */

export async function concurrentEdits(ctx: Context, tool: SyncTool, a: Peer, b: Peer): Promise<void> {
  const notes = pickNotes(ctx, 'concurrent', ctx.opts.pairs, (f) => existsSync(join(a.vault, f.path)));
  const markers: string[] = [];
  ctx.link.cut();
  try {
    for (const [i, note] of notes.entries()) {
      const ma = `A-edit-${i}-${sha256(`a${i}`).slice(0, 8)}`;
      const mb = `B-edit-${i}-${sha256(`b${i}`).slice(0, 8)}`;
      markers.push(ma, mb);
      writeFileSync(join(a.vault, note.path), insertLine(readFileSync(join(a.vault, note.path), 'utf8'), ma, 0.2));
      writeFileSync(join(b.vault, note.path), insertLine(readFileSync(join(b.vault, note.path), 'utf8'), mb, 0.8));
    }
    await Promise.all([tool.settleLocal(a), tool.settleLocal(b)]);
  } finally {
    ctx.link.restore();
  }
  const t0 = now();
  const deadline = t0 + limit(ctx, 600_000);
  let diff = compareTrees(a.vault, b.vault);
  for (;;) {
    try {
      await tool.waitInSync(a, b, t0, Math.max(1_000, deadline - now()), listTree(a.vault).length);
    } catch {
      // fall through to the comparison and the deadline
    }
    diff = compareTrees(a.vault, b.vault);
    if (diff.identical || now() > deadline) break;
    await sleep(2_000);
  }
  const converged = now() - t0;
  const files = listTree(a.vault);
  const conflictFiles = files.filter((p) => tool.conflictPattern.test(p));
  const noteTexts = files.filter((p) => p.endsWith('.md') && !tool.conflictPattern.test(p)).map((p) => readFileSync(join(a.vault, p), 'utf8'));
  const conflictTexts = conflictFiles.map((p) => readFileSync(join(a.vault, p), 'utf8'));
  const count = (texts: string[], marker: string): number => texts.reduce((n, t) => n + t.split(marker).length - 1, 0);
  let exactlyOnce = 0;
  let onlyInConflictCopies = 0;
  let duplicated = 0;
  let lost = 0;
  for (const marker of markers) {
    const inNotes = count(noteTexts, marker);
    if (inNotes === 1) exactlyOnce += 1;
    else if (inNotes > 1) duplicated += 1;
    else if (count(conflictTexts, marker) > 0) onlyInConflictCopies += 1;
    else lost += 1;
  }
  const variant = variantOf(tool);
  ctx.figures.add('concurrent-conflicts', variant, [conflictFiles.length]);
  ctx.figures.add('concurrent-once', variant, [exactlyOnce], { detail: `of ${markers.length}; ${onlyInConflictCopies} only in conflict copies, ${duplicated} duplicated, ${lost} lost${diff.identical ? '' : '; folders still differ'}` });
  ctx.log(
    `  ${tool.info.label}, ${notes.length} notes edited on both sides while cut off: ${diff.identical ? `identical after ${Math.round(converged)} ms` : `NOT identical after ${Math.round(converged)} ms (${describeDiff(diff)})`}; ` +
      `${conflictFiles.length} conflict files; of ${markers.length} edits ${exactlyOnce} exactly once in the notes, ${onlyInConflictCopies} only in conflict copies, ${duplicated} duplicated, ${lost} lost`,
  );
}
