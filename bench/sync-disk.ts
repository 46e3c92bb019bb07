/**
 * Faults of the disk and the clock, on real `vault-peers run --vault`
 * processes over iroh on loopback:
 *
 * - a full disk: the receiving vault on a small tmpfs;
 * - a file changed by another program during a transfer, on either side;
 * - a clock years ahead on one device.
 *
 * Each ends with both sides in sync and nothing lost.
 */
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliAsync, eventually } from '../spec/support/headless';
import { VaultDir, watchForPartial } from '../spec/support/synced-peers';
import { Peers, fillVault, inSync, leftovers, missingOrChanged, pair, type SyncedPeer } from './sync-lib';

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Waits until `peer` has staged at least `bytes` of a transfer. */
function transferUnderWay(peer: SyncedPeer, bytes: number, what: string): Promise<number> {
  return eventually(async () => {
    const staged = await peer.vault.stagedTotal();
    return staged >= bytes ? staged : undefined;
  }, 60_000, what);
}

/* ---- a full disk ---- */

export interface FullDiskReport {
  /** Why it did not run (no tmpfs could be mounted), or null. */
  skipped: string | null;
  /** The lines `run` printed about the full disk, and how many in all while it was full. */
  runSaid: string[];
  problemLines: number;
  /** What `status` said meanwhile (its text). */
  statusSaid: string;
  /** Sizes the large file was seen at on the full side before space returned, other than its whole size (none is right). */
  partial: number[];
  /** Generated files that were present but not whole while the disk was full. */
  halfWritten: string[];
  /** After space returned: every file arrived whole, nothing left over. */
  resumed: boolean;
  wrong: string[];
  leftovers: string[];
  secondsToResume: number;
}

/** Partial-file watchers of one check, stopped in its `finally` too: a check that fails midway must not leave one polling. */
type Watch = ReturnType<typeof watchForPartial>;
const stopAll = (watches: Watch[]): Promise<unknown> => Promise.all(watches.map((w) => w.stop()));

function mountTmpfs(at: string, size: string): string | null {
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', at], { encoding: 'utf8' });
  return mounted.status === 0 ? null : `mount -t tmpfs failed (${mounted.stderr.trim() || `exit ${mounted.status}`}): needs root or CAP_SYS_ADMIN`;
}

/**
 * The receiving vault is an 8 MB tmpfs; the other side holds notes, a small
 * attachment and one of 12 MB that cannot fit. Once the disk filled, the
 * tmpfs grows to 64 MB (space returned), and the sync must finish by itself.
 */
export async function fullDisk(): Promise<FullDiskReport> {
  const report: FullDiskReport = { skipped: null, runSaid: [], problemLines: 0, statusSaid: '', partial: [], halfWritten: [], resumed: false, wrong: [], leftovers: [], secondsToResume: 0 };
  const mountPoint = mkdtempSync(join(tmpdir(), 'vp-tmpfs-'));
  const failed = mountTmpfs(mountPoint, '8m');
  if (failed) {
    rmSync(mountPoint, { recursive: true, force: true });
    return { ...report, skipped: failed };
  }
  const peers = new Peers();
  const watches: Watch[] = [];
  try {
    const a = peers.make('Full-A');
    const b = peers.make('Full-B');
    const large = 12 * 1024 * 1024;
    const expected = await fillVault(a.vault, 'docs', 40, [400_000, large]);
    const bigPath = 'docs/attachments/file-1.bin';
    pair(a, b);
    await a.startSyncing();
    await b.startSyncing({ vault: mountPoint });
    const bVault = new VaultDir(mountPoint);
    const watch = watchForPartial(bVault, bigPath, large);
    watches.push(watch);
    await eventually(async () => b.lines(/disk is full/).length > 0 || undefined, 90_000, 'run to say the disk is full');
    report.runSaid = [...new Set(b.lines(/disk is full/))].slice(0, 3);
    report.statusSaid = (await cliAsync(b.dir, ['status'])).stdout.trim();
    for (const [path, bytes] of expected) {
      const found = await bVault.bytes(path);
      if (found && !found.equals(bytes)) report.halfWritten.push(`${path}: ${found.length} of ${bytes.length} bytes`);
    }
    // Give the full disk a few seconds, to count how often it is reported.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    report.problemLines = b.lines(/disk is full/).length;
    const before = await watch.stop();
    report.partial = before.partial;

    const remounted = spawnSync('mount', ['-o', 'remount,size=64m', mountPoint], { encoding: 'utf8' });
    if (remounted.status !== 0) throw new Error(`remount failed: ${remounted.stderr}`);
    const t0 = performance.now();
    const after = watchForPartial(bVault, bigPath, large);
    watches.push(after);
    await eventually(async () => (await bVault.bytes(bigPath))?.length === large || undefined, 120_000, 'the large file once space returned');
    report.secondsToResume = Math.round((performance.now() - t0) / 100) / 10;
    report.partial.push(...(await after.stop()).partial);
    await eventually(async () => {
      const [status, treeA, treeB] = await Promise.all([b.status(), a.vault.tree(), bVault.tree()]);
      return (status.here?.files === 0 && JSON.stringify(treeA) === JSON.stringify(treeB)) || undefined;
    }, 120_000, 'both sides in sync once space returned');
    report.wrong = await missingOrChanged(bVault, expected);
    report.leftovers = await leftovers(bVault);
    report.resumed = report.wrong.length === 0;
  } finally {
    await stopAll(watches);
    await peers.disposeAll();
    spawnSync('umount', ['-l', mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  }
  return report;
}

/* ---- a file changed by another program during a transfer ---- */

export interface ChangedReport {
  /** The receiving side: another program wrote the path while the transfer into it ran. Both versions kept on both sides. */
  receiving: { bothKept: boolean; treesIdentical: boolean; conflicts: number; partial: number[]; leftovers: string[] };
  /** The sending side: its file changed in place mid-send. The receiver ends with the new version, never a mix. */
  sending: { receiverHasNew: boolean; treesIdentical: boolean; partial: number[]; leftovers: string[] };
}

export async function changedDuringTransfer(size = 20 * 1024 * 1024): Promise<ChangedReport> {
  const peers = new Peers();
  const watches: Watch[] = [];
  try {
    const a = peers.make('Changed-A');
    const b = peers.make('Changed-B');
    await a.vault.write('notes/first.md', 'first\n');
    pair(a, b);
    await Promise.all([a.startSyncing(), b.startSyncing()]);
    await inSync(a, b);

    // The receiving side: B fetches media/clip.bin while another program on B writes its own file there.
    const theirs = randomBytes(size);
    const local = randomBytes(2 * 1024 * 1024 + 17);
    const watchB = watchForPartial(b.vault, 'media/clip.bin', size);
    watches.push(watchB);
    await a.vault.write('media/clip.bin', theirs);
    await transferUnderWay(b, 1024 * 1024, 'the transfer to B');
    await mkdir(b.vault.at('media'), { recursive: true });
    const handle = await open(b.vault.at('media/clip.bin'), 'w');
    for (let at = 0; at < local.length; at += 256 * 1024) await handle.write(local.subarray(at, at + 256 * 1024));
    await handle.close();
    const tree = await inSync(a, b, 120_000);
    const hashes = new Set(Object.values(tree));
    const receiving = {
      bothKept: hashes.has(sha(theirs)) && hashes.has(sha(local)),
      treesIdentical: JSON.stringify(tree) === JSON.stringify(await b.vault.tree()),
      conflicts: (await b.conflicts()).conflicts.length,
      // Sizes the other program's own writing passes through (256 KiB at a time) are its, not a partial transfer.
      partial: (await watchB.stop()).partial.filter((s) => s !== local.length && s % (256 * 1024) !== 0),
      leftovers: [...(await leftovers(a.vault)), ...(await leftovers(b.vault))],
    };

    // The sending side: A's file is rewritten in place, a megabyte in the middle, while B fetches it.
    const first = randomBytes(size);
    const watchSend = watchForPartial(b.vault, 'media/send.bin', size);
    watches.push(watchSend);
    await a.vault.write('media/send.bin', first);
    await transferUnderWay(b, 1024 * 1024, 'the second transfer to B');
    const patch = randomBytes(1024 * 1024);
    const edit = await open(a.vault.at('media/send.bin'), 'r+');
    await edit.write(patch, 0, patch.length, Math.floor(size / 2));
    await edit.close();
    const final = Buffer.from(first);
    patch.copy(final, Math.floor(size / 2));
    await eventually(async () => (await b.vault.bytes('media/send.bin'))?.equals(final) || undefined, 120_000, 'the changed file on B');
    const after = await inSync(a, b, 120_000);
    const sending = {
      receiverHasNew: (await b.vault.bytes('media/send.bin'))?.equals(final) ?? false,
      treesIdentical: JSON.stringify(after) === JSON.stringify(await b.vault.tree()),
      partial: (await watchSend.stop()).partial,
      leftovers: [...(await leftovers(a.vault)), ...(await leftovers(b.vault))],
    };
    return { receiving, sending };
  } finally {
    await stopAll(watches);
    await peers.disposeAll();
  }
}

/* ---- a clock years ahead ---- */

/** Loaded with `node --require`: Date (now and new Date()) runs `VP_CLOCK_OFFSET_MS` ahead. Timers and performance.now are untouched. */
const CLOCK_HOOK = `
const offset = Number(process.env.VP_CLOCK_OFFSET_MS || 0);
const RealDate = Date;
class ShiftedDate extends RealDate {
  constructor(...args) { if (args.length === 0) super(RealDate.now() + offset); else super(...args); }
  static now() { return RealDate.now() + offset; }
}
globalThis.Date = ShiftedDate;
`;

export interface ClockReport {
  offsetYears: number;
  /** The device ahead printed dates in its future (the hook took). */
  hookTook: boolean;
  /** Edits made on the device whose clock is right, after it received the other's: they win on both sides. */
  laterEditsKept: boolean;
  /** Offline edits on both sides: every note line present, both attachment versions kept. */
  concurrentKept: boolean;
  treesIdentical: boolean;
  details: string[];
}

export async function futureClock(years = 10): Promise<ClockReport> {
  const dir = mkdtempSync(join(tmpdir(), 'vp-clock-'));
  const hook = join(dir, 'clock.cjs');
  writeFileSync(hook, CLOCK_HOOK);
  const env = { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${hook}`.trim(), VP_CLOCK_OFFSET_MS: String(Math.round(years * 365.25 * 24 * 3600 * 1000)) };
  const peers = new Peers();
  const report: ClockReport = { offsetYears: years, hookTook: false, laterEditsKept: false, concurrentKept: false, treesIdentical: false, details: [] };
  try {
    const ahead = peers.make('Ahead');
    const right = peers.make('Right');
    const startAhead = (): Promise<void> => ahead.start('127.0.0.1', { vault: ahead.vault.root, env });
    await ahead.vault.write('notes/shared.md', '# shared\n');
    await ahead.vault.write('files/pic.bin', randomBytes(50_000));
    pair(ahead, right);
    await Promise.all([startAhead(), right.startSyncing()]);
    await inSync(ahead, right);
    report.hookTook = (await ahead.status()).peers.some((p) => p.lastSyncAt !== null && new Date(p.lastSyncAt).getFullYear() >= new Date().getFullYear() + years - 1);

    // The device ahead edits; the right one receives, then edits after it: its versions must win, timestamps notwithstanding.
    const v2 = randomBytes(50_000);
    await ahead.vault.write('files/pic.bin', v2);
    await ahead.vault.write('notes/shared.md', '# shared\nahead-1\n');
    await inSync(ahead, right);
    const v3 = randomBytes(50_000);
    await right.vault.write('files/pic.bin', v3);
    await right.vault.write('notes/shared.md', '# shared\nahead-1\nright-1\n');
    await inSync(ahead, right);
    const aheadPic = await ahead.vault.bytes('files/pic.bin');
    const aheadNote = await ahead.vault.read('notes/shared.md');
    report.laterEditsKept = (aheadPic?.equals(v3) ?? false) && aheadNote === '# shared\nahead-1\nright-1\n';
    if (!report.laterEditsKept) report.details.push(`after the later edits, the device ahead has pic v3: ${aheadPic?.equals(v3)}, note ${JSON.stringify(aheadNote)}`);

    // Both offline, both edit the note and the attachment; then they meet.
    await Promise.all([ahead.stop(), right.stop()]);
    const v4 = randomBytes(50_000);
    const v5 = randomBytes(50_000);
    await ahead.vault.write('files/pic.bin', v4);
    await ahead.vault.write('notes/shared.md', '# shared\nahead-1\nright-1\nahead-2\n');
    await right.vault.write('files/pic.bin', v5);
    await right.vault.write('notes/shared.md', '# shared\nahead-1\nright-1\nright-2\n');
    await Promise.all([startAhead(), right.startSyncing({ vault: null })]);
    const tree = await inSync(ahead, right, 120_000);
    const hashes = new Set(Object.values(tree));
    const note = (await right.vault.read('notes/shared.md')) ?? '';
    const lines = ['ahead-1', 'right-1', 'ahead-2', 'right-2'];
    report.concurrentKept = hashes.has(sha(v4)) && hashes.has(sha(v5)) && lines.every((l) => note.split('\n').filter((x) => x === l).length === 1);
    if (!report.concurrentKept) report.details.push(`offline edits: v4 kept ${hashes.has(sha(v4))}, v5 kept ${hashes.has(sha(v5))}, note ${JSON.stringify(note)}`);
    report.treesIdentical = JSON.stringify(tree) === JSON.stringify(await ahead.vault.tree());
  } finally {
    await peers.disposeAll();
    rmSync(dir, { recursive: true, force: true });
  }
  return report;
}
