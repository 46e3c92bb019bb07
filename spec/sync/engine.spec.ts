import { Observable, Subject, filter, firstValueFrom, merge, skipWhile, take } from 'rxjs';
import { BLOB_PROTOCOL, SYNC_PROTOCOL, decodeMessage } from '../../src/sync/wire';
import * as Y from 'yjs';
import type { FileChange, FileStat, StoreBatch } from '../../src/sync/ports';
import { MemorySyncStore } from '../support/memory-store';
import { memoryLink, type MemoryLink } from '../support/memory-connection';
import { MemoryVault } from '../support/memory-vault';
import { Device, bothFinished, deviceFleet, connect, converged, waitFor, type Connection } from '../support/sync-harness';

const { devices, start, link } = deviceFleet();
const big = (size: number, seed = 1): Uint8Array => new Uint8Array(size).map((_, i) => (i * 131 + seed) % 251);

describe('the engine, live', () => {
  it('sends a one-line edit as one small frame and reports a started…finished cycle for it', async () => {
    const a = await start('a', { 'Daily/today.md': `# Today\n\n${'- an item on the list\n'.repeat(100)}` });
    const b = await start('b');
    const fromA: string[] = [];
    const c = link(a, b, { tap: (from: string, protocol: string, frame: Uint8Array) => {
      if (from !== 'a' || protocol !== SYNC_PROTOCOL) return;
      const m = decodeMessage(frame);
      fromA.push(m.type === 'changes' ? `changes ${m.entries.length} ${m.docs.length}` : m.type);
    } });
    await waitFor(() => bothFinished(c), 'the catch-up');
    const before = { bytes: c.link.totalBytes, frames: fromA.length, events: c.events.b.length };
    a.vault.put('Daily/today.md', `# Today\n\n- one more line\n${'- an item on the list\n'.repeat(100)}`);
    await waitFor(() => b.vault.text('Daily/today.md')?.includes('one more line') === true, 'the edit');
    await waitFor(() => bothFinished(c), 'the burst to finish');
    // The edit is one frame (its entry and its Yjs update together); the rest is acknowledgements.
    expect(fromA[before.frames]).toBe('changes 1 1');
    expect(fromA.slice(before.frames + 1).every((t) => t === 'synced' || t === 'caught-up')).toBe(true);
    expect(c.link.totalBytes - before.bytes).toBeLessThanOrEqual(500);
    const cycle = c.events.b.slice(before.events);
    expect(cycle[0]!.type).toBe('started');
    expect(cycle.at(-1)!.type).toBe('finished');
    expect(cycle.at(-2)).toMatchObject({ type: 'progress', files: { done: 1, total: 1 } });
  });

  it('sends no content for a rename, and none for a copy of an attachment the other side has', async () => {
    const a = await start('a', { 'note.md': 'x'.repeat(20_000), 'pic.png': big(300_000) });
    const b = await start('b');
    const c = link(a, b);
    await waitFor(() => bothFinished(c), 'the catch-up');
    await converged([a, b]);
    const before = c.link.totalBytes;
    a.vault.move('note.md', 'renamed.md');
    a.vault.put('copy of pic.png', big(300_000));
    await waitFor(() => b.vault.paths().join() === 'copy of pic.png,pic.png,renamed.md', 'the rename and the copy');
    await converged([a, b]);
    expect(c.link.totalBytes - before).toBeLessThan(1500);
  });

  it('never sends what this device does not sync: the config folder, hidden files, excluded patterns', async () => {
    const a = await start(
      'a',
      { '.obsidian/app.json': '{}', 'notes/.hidden.md': 'h', 'private/secret.md': 's', 'tmp.log': 'l', 'ok.md': 'ok' },
      { engine: { filter: { configDir: '.obsidian', exclude: ['/private', '*.log'], maxFileBytes: 0, attachments: true, noteExtensions: ['md'] } } },
    );
    const b = await start('b');
    const paths: string[] = [];
    const c = link(a, b, { tap: (from: string, protocol: string, frame: Uint8Array) => {
      if (from !== 'a' || protocol !== SYNC_PROTOCOL) return;
      const message = decodeMessage(frame);
      if (message.type === 'changes') paths.push(...message.entries.map((e) => e.path));
    } });
    await waitFor(() => bothFinished(c), 'the catch-up');
    expect(paths).toEqual(['ok.md']);
    expect(b.vault.paths()).toEqual(['ok.md']);
  });

  it('lists files that cannot be synced, with the reason, and keeps them local', async () => {
    const a = await start('a', { 'CON.md': 'reserved', 'what?.md': 'q', 'fine.md': 'f' });
    const notSynced = await firstValueFrom(a.engine.notSynced$.pipe(skipWhile((m) => m.size < 2)));
    expect([...notSynced.values()].map((n) => [n.path, n.reason])).toEqual([
      ['CON.md', expect.stringMatching(/Not synced: "CON.md": it uses a name Windows reserves/u)],
      ['what?.md', expect.stringMatching(/Windows cannot store/u)],
    ]);
    expect(a.engine.records().map((r) => r.path)).toEqual(['fine.md']);
  });
});

describe('the engine, when things stop', () => {
  it('an unsubscribe in the middle of a large transfer leaves no partial file, and the next connection resumes it', async () => {
    const content = big(3_000_000, 7);
    const a = await start('a', { 'video.mp4': content });
    const b = await start('b');
    let blobBytes = 0;
    const first = link(a, b, { windowBytes: 64 * 1024, latencyMs: 25, tap: (from: string, protocol: string, frame: Uint8Array) => from === 'a' && protocol === BLOB_PROTOCOL && (blobBytes += frame.length) });
    await waitFor(() => blobBytes > 1_100_000, 'part of the transfer');
    first.disconnect();
    await b.engine.settled();
    expect(b.vault.paths()).toEqual([]);
    const staged = b.vault.stagedKeys();
    expect(staged).toHaveLength(1);
    let resumed = 0;
    const second = link(a, b, { tap: (from: string, protocol: string, frame: Uint8Array) => from === 'a' && protocol === BLOB_PROTOCOL && (resumed += frame.length) });
    await waitFor(() => bothFinished(second), 'the resumed transfer');
    expect(Buffer.compare(b.vault.bytes('video.mp4')!, content)).toBe(0);
    expect(resumed).toBeLessThan(content.length - 1_000_000);
    expect(b.vault.stagedKeys()).toEqual([]);
  }, 30_000);

  it('close() in the middle of a large transfer ends the fetch at once: its stream is reset, the rest is not sent', async () => {
    const content = big(3_000_000, 9);
    const a = await start('a', { 'film.mp4': content });
    const b = await start('b');
    let blobBytes = 0;
    const c = link(a, b, { windowBytes: 64 * 1024, latencyMs: 25, tap: (from: string, protocol: string, frame: Uint8Array) => from === 'a' && protocol === BLOB_PROTOCOL && (blobBytes += frame.length) });
    await waitFor(() => blobBytes > 600_000, 'part of the transfer');
    await b.engine.close();
    devices.splice(devices.indexOf(b), 1);
    const atClose = blobBytes;
    await waitFor(() => c.link.a.openStreams === 0 && c.link.b.openStreams === 0, 'every stream to end');
    // What was in flight (a window and a chunk) at most, not the rest of the file.
    expect(blobBytes - atClose).toBeLessThan(1_200_000);
    expect(b.vault.paths()).toEqual([]);
    expect(b.vault.stagedKeys()).toHaveLength(1);
  }, 30_000);

  it('serving one attachment to a second peer reads it once more, not twice (its chunk hashes are kept)', async () => {
    class CountingVault extends MemoryVault {
      bytesRead = 0;
      override async readRange(path: string, offset: number, length: number): Promise<Uint8Array | null> {
        const bytes = await super.readRange(path, offset, length);
        this.bytesRead += bytes?.length ?? 0;
        return bytes;
      }
    }
    const content = big(1_500_000, 4);
    const vault = new CountingVault();
    vault.put('scan.pdf', content);
    const a = new Device('a', {}, vault);
    await a.open();
    devices.push(a);
    const b = await start('b');
    const c = await start('c');
    const first = link(a, b);
    await waitFor(() => bothFinished(first) && b.vault.bytes('scan.pdf')?.length === content.length, 'the first transfer');
    const before = vault.bytesRead;
    const second = link(a, c);
    await waitFor(() => bothFinished(second) && c.vault.bytes('scan.pdf')?.length === content.length, 'the second transfer');
    // The chunks sent, each checked as it is read; no second full read to hash the file first.
    expect(vault.bytesRead - before).toBe(content.length);
  });

  it('removing the peer (its session unsubscribed) mid-transfer ends the fetch at once and quietly: no file, no error', async () => {
    const content = big(3_000_000, 11);
    const a = await start('a', { 'talk.mp4': content });
    const b = await start('b');
    let blobBytes = 0;
    const l = memoryLink(a.id, b.id, { windowBytes: 64 * 1024, latencyMs: 25, tap: (from, protocol, frame) => from === 'a' && protocol === BLOB_PROTOCOL && (blobBytes += frame.length) });
    const errors: string[] = [];
    const log = b.engine.activity$.subscribe((e) => e.kind === 'error' && errors.push(e.message));
    const subs = [a.engine.syncWithPeer(l.a).subscribe({ error: () => undefined }), b.engine.syncWithPeer(l.b).subscribe({ error: () => undefined })];
    await waitFor(() => blobBytes > 600_000, 'part of the transfer');
    subs[1]!.unsubscribe();
    await waitFor(() => l.b.openStreams === 0, "b's streams to end");
    await b.engine.settled();
    expect(errors).toEqual([]);
    expect(b.vault.paths()).toEqual([]);
    subs[0]!.unsubscribe();
    log.unsubscribe();
    l.cut();
  }, 30_000);

  it('a kill -9 in the middle of a large transfer: no partial file after restart, and the transfer resumes', async () => {
    const content = big(2_500_000, 3);
    const a = await start('a', { 'archive.zip': content });
    const b = await start('b');
    let blobBytes = 0;
    const first = link(a, b, { windowBytes: 64 * 1024, latencyMs: 25, tap: (from: string, protocol: string, frame: Uint8Array) => from === 'a' && protocol === BLOB_PROTOCOL && (blobBytes += frame.length) });
    await waitFor(() => blobBytes > 1_100_000, 'part of the transfer');
    await b.crashAndRestart();
    first.link.cut();
    expect(b.vault.paths()).toEqual([]);
    let resumed = 0;
    const second = link(a, b, { tap: (from: string, protocol: string, frame: Uint8Array) => from === 'a' && protocol === BLOB_PROTOCOL && (resumed += frame.length) });
    await waitFor(() => bothFinished(second), 'the resumed transfer');
    expect(Buffer.compare(b.vault.bytes('archive.zip')!, content)).toBe(0);
    expect(resumed).toBeLessThan(content.length);
  }, 30_000);

  it('close() stops watching, ends every session (the peer completes, it is not an error) and keeps no stream open', async () => {
    const a = await start('a', { 'n.md': 'n' });
    const b = await start('b');
    const c = link(a, b);
    await waitFor(() => bothFinished(c), 'the catch-up');
    const bCompleted = new Promise<void>((resolve) => b.engine.syncWithPeer(memoryLink(b.id, a.id).a).subscribe({ complete: resolve, error: resolve }));
    void bCompleted;
    await a.engine.close();
    devices.splice(devices.indexOf(a), 1);
    expect(a.vault.watchers).toBe(0);
    await waitFor(() => c.link.a.openStreams === 0 && c.link.b.openStreams === 0, 'streams to close');
    await waitFor(() => b.engine.records().length > 0, 'b to hold the note');
    expect(c.errors.b).toBeNull();
  });

  it('a failed open (the folder cannot be listed) rejects with the reason and leaves no watcher behind', async () => {
    class UnlistableVault extends MemoryVault {
      override list(): Promise<FileStat[]> {
        return Promise.reject(new Error('EACCES: permission denied'));
      }
    }
    const vault = new UnlistableVault();
    const device = new Device('u', {}, vault);
    await expect(device.open()).rejects.toThrow(/EACCES/u);
    expect(vault.watchers).toBe(0);
  });

  it('a watcher that fails for good stops syncing cleanly: the error is shown, the peer is told, new sessions are refused', async () => {
    class BreakingVault extends MemoryVault {
      private readonly failure = new Subject<FileChange>();
      override watch(): Observable<FileChange> {
        return merge(super.watch(), this.failure);
      }
      break(error: Error): void {
        this.failure.error(error);
      }
    }
    const vault = new BreakingVault();
    vault.put('n.md', 'n\n');
    const a = new Device('a', {}, vault);
    await a.open();
    devices.push(a);
    const b = await start('b');
    const c = link(a, b);
    await waitFor(() => bothFinished(c), 'the catch-up');
    const aLog = firstValueFrom(a.engine.activity$.pipe(filter((e) => e.kind === 'error'), take(1)));
    vault.break(new Error('EIO: the drive went away'));
    expect((await aLog).message).toMatch(/Stopped watching the folder \(EIO: the drive went away\).*syncing stopped. Restart Vault Peers/u);
    await waitFor(() => c.errors.a !== null, "a's session to end with the reason");
    expect(String(c.errors.a)).toMatch(/Stopped watching the folder/u);
    // b was told (BYE): its session ends cleanly, not as a failure, with the reason in its log.
    const told = async (): Promise<boolean> => (await firstValueFrom(b.engine.activityLog$)).some((e) => /can no longer watch its folder/u.test(e.message));
    await waitFor(told, 'b to be told why');
    expect(c.errors.b).toBeNull();
    expect(vault.watchers).toBe(0);
    const again = await firstValueFrom(a.engine.syncWithPeer(memoryLink(a.id, b.id).a)).catch((error: unknown) => error);
    expect(String(again)).toMatch(/Stopped watching the folder/u);
    expect((await firstValueFrom(a.engine.peers$)).get(b.id)).toMatchObject({ state: 'stopped', lastError: expect.stringMatching(/Stopped watching/u) });
  });

  it.each(['a local edit', "a peer's edit"])('a store commit that fails while taking %s leaves memory as the store has it: nothing is lost from the store', async (which) => {
    class FailingStore extends MemorySyncStore {
      failNoteCommit = false;
      override commit(batch: StoreBatch): Promise<void> {
        if (this.failNoteCommit && (batch.docs ?? []).some((d) => d.update)) {
          this.failNoteCommit = false;
          return Promise.reject(new Error('EIO: the store could not be written'));
        }
        return super.commit(batch);
      }
    }
    const a = await start('a', { 'n.md': 'one\ntwo\n' });
    const b = new Device('b');
    const store = new FailingStore();
    b.store = store;
    await b.open();
    devices.push(b);
    let c = link(a, b);
    await waitFor(() => bothFinished(c), 'the catch-up');
    await converged([a, b]);
    const id = b.engine.records()[0]!.id;
    store.failNoteCommit = true;
    if (which === 'a local edit') {
      b.vault.put('n.md', 'one, first edit\ntwo\n');
      await waitFor(() => !store.failNoteCommit, 'the failed commit');
      await b.engine.settled();
      b.vault.put('n.md', 'one, first edit\ntwo, second edit\n');
    } else {
      a.vault.put('n.md', 'one, first edit\ntwo\n');
      await waitFor(() => !store.failNoteCommit, 'the failed commit');
      // The session that failed to store it ends; the next one brings the edit again.
      await waitFor(() => c.errors.b !== null, 'the session to end');
      c.disconnect();
      c = link(a, b);
      a.vault.put('n.md', 'one, first edit\ntwo, second edit\n');
    }
    await waitFor(() => a.vault.text('n.md') === 'one, first edit\ntwo, second edit\n' && b.vault.text('n.md') === a.vault.text('n.md'), 'both edits on both');
    await b.engine.settled();
    // What the store holds for the note is the whole text: a restart (or an eviction) loses neither edit.
    const stored = (await store.loadDoc(id))!;
    const doc = new Y.Doc();
    for (const update of stored.updates) Y.applyUpdate(doc, update);
    expect(doc.getText('t').toString()).toBe('one, first edit\ntwo, second edit\n');
  });

  it('a change the watcher dropped is found by the periodic rescan and synced', async () => {
    class DeafVault extends MemoryVault {
      deaf = false;
      override watch(): Observable<FileChange> {
        return super.watch().pipe(filter(() => !this.deaf));
      }
    }
    const vault = new DeafVault();
    const a = new Device('a', { engine: { rescanMs: 40 } }, vault);
    await a.open();
    devices.push(a);
    const b = await start('b');
    const c = link(a, b);
    await waitFor(() => bothFinished(c), 'the catch-up');
    vault.deaf = true;
    vault.put('missed.md', 'the watcher never said\n');
    await waitFor(() => b.vault.text('missed.md') === 'the watcher never said\n', 'the rescan to find it');
  });

  it('a full disk: the write fails with a clear error, nothing is half written, and it is retried once space returns', async () => {
    const a = await start('a');
    const b = await start('b');
    const c = link(a, b);
    await waitFor(() => bothFinished(c), 'the catch-up');
    b.vault.failWrites = new Error('ENOSPC: no space left on device');
    const errors: string[] = [];
    const sub = b.engine.activity$.subscribe((e) => e.kind === 'error' && errors.push(e.message));
    a.vault.put('new.md', 'arrives later\n');
    await waitFor(() => errors.length > 0, 'the error');
    expect(errors[0]).toMatch(/Could not write "new.md": ENOSPC.*free some space/u);
    expect(b.vault.paths()).toEqual([]);
    b.vault.failWrites = null;
    await waitFor(() => b.vault.text('new.md') === 'arrives later\n', 'the retry');
    sub.unsubscribe();
  });
  it('a write failure the folder already explained (path, cause, what to do) is shown as it is, not wrapped in a second sentence about the same file', async () => {
    const a = await start('a');
    const b = await start('b');
    const c = link(a, b);
    await waitFor(() => bothFinished(c), 'the catch-up');
    // What the headless peer's folder adapter throws for ENOSPC.
    b.vault.failWrites = new Error('Could not write "new.md" in /vault: the disk is full (or your quota is used up). Free some space; Vault Peers tries again and nothing was lost.');
    const errors: string[] = [];
    const sub = b.engine.activity$.subscribe((e) => e.kind === 'error' && errors.push(e.message));
    a.vault.put('new.md', 'arrives later\n');
    await waitFor(() => errors.length > 0, 'the error');
    expect(errors[0]).toBe(b.vault.failWrites.message);
    b.vault.failWrites = null;
    await waitFor(() => b.vault.text('new.md') === 'arrives later\n', 'the retry');
    sub.unsubscribe();
  });

  it("a full disk while an attachment is staged is shown too, though its sentence says 'nothing was lost' (not taken for a dropped connection)", async () => {
    const a = await start('a');
    const b = await start('b');
    const c = link(a, b);
    await waitFor(() => bothFinished(c), 'the catch-up');
    b.vault.failWrites = new Error('Could not write ".vault-peers/staging/x" in /vault: the disk is full (or your quota is used up). Free some space; Vault Peers tries again and nothing was lost.');
    const errors: string[] = [];
    const sub = b.engine.activity$.subscribe((e) => e.kind === 'error' && errors.push(e.message));
    a.vault.put('photo.png', big(5_000));
    await waitFor(() => errors.length > 0, 'the error');
    expect(errors[0]).toBe(b.vault.failWrites.message);
    b.vault.failWrites = null;
    sub.unsubscribe();
  });
});

describe('what people see', () => {
  it('status per peer: catching up, then live, with progress in files and bytes', async () => {
    const a = await start('a', { 'a.md': 'a', 'b.png': big(10_000) });
    const b = await start('b');
    const states: string[] = [];
    const sub = b.engine.peers$.subscribe((peers) => {
      const state = peers.get(a.id)?.state;
      if (state && states.at(-1) !== state) states.push(state);
    });
    const c = link(a, b);
    await waitFor(() => bothFinished(c), 'the catch-up');
    expect(states).toEqual(['catching-up', 'live']);
    expect(a.engine.pendingFor(b.id)).toEqual({ files: 0 });
    expect(b.engine.pending()).toEqual({ files: 0, bytes: 0 });
    c.disconnect();
    a.vault.put('later.md', 'while apart\n');
    await waitFor(() => a.engine.pendingFor(b.id).files === 1, 'the change to be pending for b');
    const progress = c.events.b.filter((e) => e.type === 'progress');
    expect(progress.at(-1)).toMatchObject({ files: { done: 2, total: 2 } });
    expect((progress.at(-1) as { bytes: { total: number } }).bytes.total).toBeGreaterThanOrEqual(10_000);
    sub.unsubscribe();
  });

  it("counts an incoming attachment's size in the bytes to receive before its bytes arrive, and its file as done once it is in place", async () => {
    const a = await start('a', { 'talk.mp4': big(1_500_000) });
    // Progress every 10 ms over a link with some latency: several reports while the bytes come in.
    const b = await start('b', {}, { engine: { progressMs: 10 } });
    const c = link(a, b, { latencyMs: 20 });
    await waitFor(() => bothFinished(c), 'the catch-up');
    type Progress = { files: { done: number; total: number }; bytes: { done: number; total: number } };
    const progress = c.events.b.filter((e) => e.type === 'progress') as Progress[];
    // While the content is still coming (a retried fetch may count its bytes again, so not judged by the total).
    const moving = progress.filter((p) => p.bytes.done > 0 && p.bytes.done < 1_500_000);
    expect(moving.length).toBeGreaterThan(0);
    for (const p of moving) {
      expect(p.bytes.total).toBeGreaterThanOrEqual(1_500_000);
      expect(p.files).toEqual({ done: 0, total: 1 });
    }
    const last = progress.at(-1)!;
    expect(last.files).toEqual({ done: 1, total: 1 });
    expect(last.bytes.done).toBe(last.bytes.total);
    expect(last.bytes.total).toBeGreaterThanOrEqual(1_500_000);
  });

  it('logs a merge of concurrent edits, lists conflict copies, and resolves them as asked', async () => {
    const a = await start('a', { 'n.md': 'one\ntwo\n', 'p.png': new Uint8Array([1]), 'q.png': new Uint8Array([5]) });
    const b = await start('b');
    (await (async () => {
      const c = link(a, b);
      await waitFor(() => bothFinished(c), 'the first sync');
      await converged([a, b]);
      return c;
    })()).disconnect();
    a.vault.put('n.md', 'one A\ntwo\n');
    a.vault.put('p.png', new Uint8Array([2]));
    a.vault.put('q.png', new Uint8Array([6]));
    await new Promise((r) => setTimeout(r, 30));
    b.vault.put('n.md', 'one\ntwo B\n');
    b.vault.put('p.png', new Uint8Array([3]));
    b.vault.put('q.png', new Uint8Array([7]));
    await new Promise((r) => setTimeout(r, 30));
    const c = link(a, b);
    await waitFor(() => bothFinished(c), 'the second sync');
    await converged([a, b]);
    expect(c.events.b).toContainEqual({ type: 'merged', path: 'n.md' });
    expect(c.events.b.filter((e) => e.type === 'conflict').map((e) => (e as { path: string }).path).sort()).toEqual(['p.png', 'q.png']);
    const log = await firstValueFrom(b.engine.activityLog$.pipe(skipWhile((l) => !l.some((e) => e.kind === 'merged')), take(1)));
    expect(log.find((e) => e.kind === 'merged')).toMatchObject({ path: 'n.md', peer: a.id, message: expect.stringMatching(/Merged concurrent edits from 61616161 in n.md/u) });
    const conflicts = await firstValueFrom(b.engine.conflicts$.pipe(skipWhile((l) => l.length < 2)));
    expect(conflicts.map((x) => [x.original, x.originalExists])).toEqual([
      ['p.png', true],
      ['q.png', true],
    ]);
    const [pCopy, qCopy] = conflicts.map((x) => x.copy);
    await b.engine.resolveConflict(pCopy!, 'keep-this');
    await b.engine.resolveConflict(qCopy!, 'keep-both');
    const tree = await converged([a, b]);
    expect(Object.keys(tree)).toEqual(['n.md', 'p.png', 'q 2.png', 'q.png']);
    expect([...a.vault.bytes('p.png')!]).toEqual([2]);
    expect(await firstValueFrom(a.engine.conflicts$.pipe(skipWhile((l) => l.length > 0)))).toEqual([]);
    expect(a.vault.text('n.md')).toBe('one A\ntwo B\n');
  });
});

export type { MemoryLink };
