import { Observable, Subject, filter, firstValueFrom, merge, skipWhile } from 'rxjs';
import type { FileChange } from '../../src/sync/ports';
import { MemoryVault } from '../support/memory-vault';
import { SYNC_PROTOCOL, decodeMessage } from '../../src/sync/wire';
import { Device, bothFinished, deviceFleet, connect, converged, waitFor, type Connection } from '../support/sync-harness';

/**
 * Files a device cannot sync as they are (a note grown past the limit, a note
 * that is not valid UTF-8): listed as not synced with the reason, left alone
 * on disk, and never a reason to stop syncing everything else.
 */

const { devices, start, link } = deviceFleet();

const notSyncedPaths = (d: Device): Promise<string[]> => firstValueFrom(d.engine.notSynced$).then((m) => [...m.keys()]);

/** A vault whose watcher can be muted (as one that dropped events) and told to rescan. */
class QuietVault extends MemoryVault {
  muted = false;
  private readonly rescans = new Subject<FileChange>();
  override watch(): Observable<FileChange> {
    return merge(super.watch().pipe(filter(() => !this.muted)), this.rescans);
  }
  rescan(): void {
    this.rescans.next({ type: 'rescan' });
  }
}

describe('the not-synced list', () => {
  it('drops a file once it is renamed to a name that syncs, or deleted', async () => {
    const a = await start('a', { 'what?.md': 'q\n', 'CON.md': 'reserved\n', 'fine.md': 'f\n' });
    const b = await start('b');
    link(a, b);
    await waitFor(async () => (await notSyncedPaths(a)).length === 2, 'both listed');
    a.vault.move('what?.md', 'what.md');
    await waitFor(() => b.vault.text('what.md') === 'q\n', 'the renamed file to sync');
    expect(await notSyncedPaths(a)).toEqual(['CON.md']);
    a.vault.delete('CON.md');
    await waitFor(async () => (await notSyncedPaths(a)).length === 0, 'the deleted file to leave the list');
  });

  it('is rebuilt by a rescan: a file removed while the watcher missed it leaves the list', async () => {
    const vault = new QuietVault();
    vault.put('CON.md', 'reserved\n');
    vault.put('fine.md', 'f\n');
    const a = new Device('a', {}, vault);
    await a.open();
    devices.push(a);
    await waitFor(async () => (await notSyncedPaths(a)).includes('CON.md'), 'listed');
    vault.muted = true;
    vault.delete('CON.md');
    vault.muted = false;
    await a.engine.settled();
    expect(await notSyncedPaths(a)).toEqual(['CON.md']);
    vault.rescan();
    await waitFor(async () => (await notSyncedPaths(a)).length === 0, 'the rescan to drop it');
  });
});

describe('a note that grows past 8 MiB', () => {
  it('is listed as not synced and left alone, while every other change still syncs; once smaller it syncs again', async () => {
    const a = await start('a', { 'big.md': 'small at first\n', 'other.md': 'o\n' });
    const b = await start('b');
    const sent: string[] = [];
    const c = link(a, b, { tap: (from: string, protocol: string, frame: Uint8Array) => {
      if (from !== 'a' || protocol !== SYNC_PROTOCOL) return;
      const m = decodeMessage(frame);
      if (m.type === 'changes') sent.push(...m.entries.map((e) => e.path));
    } });
    await waitFor(() => bothFinished(c), 'the catch-up');
    await converged([a, b]);
    const huge = `${'a line of a very long note\n'.repeat(330_000)}`;
    expect(huge.length).toBeGreaterThan(8 * 1024 * 1024);
    sent.length = 0;
    a.vault.put('big.md', huge);
    const listed = await firstValueFrom(a.engine.notSynced$.pipe(skipWhile((m) => !m.has('big.md'))));
    expect(listed.get('big.md')!.reason).toMatch(/Not synced: "big.md": the note grew over 8 MiB.*rename it to another extension/u);
    a.vault.put('other.md', 'o, edited\n');
    await waitFor(() => b.vault.text('other.md') === 'o, edited\n', 'an unrelated edit');
    expect(sent).toEqual(['other.md']);
    expect(b.vault.text('big.md')).toBe('small at first\n');
    expect(a.vault.text('big.md')).toBe(huge);
    expect(c.errors).toEqual({ a: null, b: null });
    a.vault.put('big.md', 'small again\n');
    await waitFor(() => b.vault.text('big.md') === 'small again\n', 'the note to sync again');
    await waitFor(async () => !(await notSyncedPaths(a)).includes('big.md'), 'the not-synced entry to go');
  }, 30_000);
});

describe('a note that is no longer valid UTF-8', () => {
  it('is listed as not synced and left alone, byte for byte, and nothing stays pending; valid text syncs again', async () => {
    const a = await start('a', { 'n.md': 'text\n', 'other.md': 'o\n' });
    const b = await start('b');
    const c = link(a, b);
    await waitFor(() => bothFinished(c), 'the catch-up');
    await converged([a, b]);
    const garbage = new Uint8Array([0x74, 0x65, 0xff, 0xfe, 0x78, 0x0a]);
    a.vault.put('n.md', garbage);
    const listed = await firstValueFrom(a.engine.notSynced$.pipe(skipWhile((m) => !m.has('n.md'))));
    expect(listed.get('n.md')!.reason).toMatch(/Not synced: "n.md": the note is no longer valid UTF-8 text/u);
    a.vault.put('other.md', 'o2\n');
    await waitFor(() => b.vault.text('other.md') === 'o2\n', 'an unrelated edit');
    await a.engine.settled();
    expect([...a.vault.bytes('n.md')!]).toEqual([...garbage]);
    expect(b.vault.text('n.md')).toBe('text\n');
    expect(a.engine.pending()).toEqual({ files: 0, bytes: 0 });
    expect(a.vault.engineWrites).toEqual([]);
    a.vault.put('n.md', 'text again\n');
    await waitFor(() => b.vault.text('n.md') === 'text again\n', 'the note to sync again');
    await waitFor(async () => !(await notSyncedPaths(a)).includes('n.md'), 'the not-synced entry to go');
  });
});

describe('a note update larger than a frame', () => {
  const words = (n: number, seed: number): string => Array.from({ length: n }, (_, i) => `w${(i * 7919 + seed) % 100_003}`).join(' ');

  it('arrives in parts, one note at a time, in the catch-up and live', async () => {
    const first = `${words(150_000, 1)}\n`;
    const a = await start('a', { 'long.md': first, 'also long.md': `${words(120_000, 2)}\n` });
    const b = await start('b');
    const parts: string[] = [];
    const c = link(a, b, { tap: (from: string, protocol: string, frame: Uint8Array) => {
      const m = from === 'a' && protocol === SYNC_PROTOCOL ? decodeMessage(frame) : null;
      if (m?.type === 'doc-part') parts.push(m.id);
    } });
    await waitFor(() => bothFinished(c), 'the catch-up', 20_000);
    await converged([a, b]);
    // Each note's parts in one run: the receiver never holds two half-assembled updates.
    const runs = (ids: string[]): string[] => ids.filter((id, i) => i === 0 || ids[i - 1] !== id);
    expect(runs(parts)).toHaveLength(2);
    expect(new Set(parts).size).toBe(2);
    const caughtUp = parts.splice(0);
    const later = `${first}${words(100_000, 3)}\n`;
    a.vault.put('long.md', later);
    await waitFor(() => b.vault.text('long.md') === later, 'the live edit', 20_000);
    expect(runs(parts)).toHaveLength(1);
    expect(caughtUp).toContain(parts[0]);
    expect(c.errors).toEqual({ a: null, b: null });
  }, 30_000);
});
