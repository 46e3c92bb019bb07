import { readdirSync, statSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageError } from '../../src/core/errors';
import { FileSyncStore } from '../../src/cli/sync-store-file';
import { crc32, crc32ForSpec } from '../../src/cli/sync-store-format';
import type { FileRecord, PeerMark, StoreBatch, StoreHeader, StoredDoc, StoredState } from '../../src/sync/ports';
import { ChildScript } from '../support/child-script';

const header: StoreHeader = { format: 1, deviceId: 'device-a', folderId: 'folder-1', epoch: '0123456789abcdef' };

/**
 * The i-th batch of a deterministic history (i from 1): records rewritten and
 * forgotten, peer marks, document updates appended and replaced, bases set.
 * Self-contained: its source is also run by the child processes below.
 */
function batchOf(i: number): StoreBatch {
  const id = (n: number) => n.toString(16).padStart(32, '0');
  const r = i % 13;
  const record = {
    id: id(r),
    path: `Notes/${r}/note ${i} ☃.md`,
    kind: r % 3 === 0 ? 'blob' : 'text',
    deleted: i % 17 === 0,
    hash: `${i}`.padStart(64, 'f'),
    size: i * 31,
    changed: { t: 1_700_000_000_000 + i, d: 'dev' },
    moved: { t: 1_700_000_000_000 + i / 3, d: '' },
    version: { aaaaaaaa: i, bbbbbbbb: Math.floor(i / 2) },
    seq: i,
    sv: r % 3 === 0 ? null : Uint8Array.from({ length: 9 + (i % 5) }, (_, k) => (i * 7 + k) % 256),
    disk: i % 4 === 0 ? null : { path: `Notes/${r}/note ${i} ☃.md`, hash: `${i}`.padStart(64, 'e'), size: i * 31, mtime: 1_700_000_000_000.123456 + i },
  } as const;
  const docs =
    r % 3 === 0
      ? []
      : [
          {
            id: id(r),
            update: Uint8Array.from({ length: 40 + (i % 50) * 10 }, (_, k) => (i + k * 3) % 256),
            ...(i % 7 === 0 ? { replace: true } : {}),
            ...(i % 2 === 0 ? { base: `base of ${r} at ${i}\n`.repeat(1 + (i % 9)) } : {}),
          },
        ];
  return {
    seq: i,
    ...(i % 19 === 0 ? { settings: `settings ${i}` } : {}),
    records: [record as unknown as FileRecord],
    ...(i % 11 === 0 ? { forget: [id((i + 5) % 13)] } : {}),
    ...(i % 5 === 0 ? { peers: [{ deviceId: `peer-${i % 3}`, epoch: 'e1', seen: i, acked: i - 1, ackedEpoch: 'e0' }] } : {}),
    docs,
  };
}

/** The port's semantics, plainly: what a store holds after some batches (the reference the file store is checked against). */
class Model {
  seq = 0;
  settings = '';
  readonly records = new Map<string, FileRecord>();
  readonly peers = new Map<string, PeerMark>();
  readonly docs = new Map<string, { updates: Uint8Array[]; base: string }>();

  apply(batch: StoreBatch): this {
    if (batch.seq !== undefined) this.seq = batch.seq;
    if (batch.settings !== undefined) this.settings = batch.settings;
    for (const record of batch.records ?? []) this.records.set(record.id, record);
    for (const peer of batch.peers ?? []) this.peers.set(peer.deviceId, peer);
    for (const doc of batch.docs ?? []) {
      const entry = this.docs.get(doc.id) ?? { updates: [], base: '' };
      if (doc.update) entry.updates = doc.replace ? [doc.update] : [...entry.updates, doc.update];
      if (doc.base !== undefined) entry.base = doc.base;
      this.docs.set(doc.id, entry);
    }
    for (const id of batch.forget ?? []) {
      this.records.delete(id);
      this.docs.delete(id);
    }
    return this;
  }

  static after(count: number): Model {
    const model = new Model();
    for (let i = 1; i <= count; i += 1) model.apply(batchOf(i));
    return model;
  }
}

const byId = <T extends { id: string }>(items: readonly T[]) => [...items].sort((a, b) => a.id.localeCompare(b.id));

async function expectHolds(store: FileSyncStore, model: Model): Promise<void> {
  const state = (await store.load())!;
  expect(state.header).toEqual(header);
  expect(state.seq).toBe(model.seq);
  expect(state.settings).toBe(model.settings);
  expect(byId(state.records)).toEqual(byId([...model.records.values()]));
  expect([...state.peers].sort((a, b) => a.deviceId.localeCompare(b.deviceId))).toEqual([...model.peers.values()].sort((a, b) => a.deviceId.localeCompare(b.deviceId)));
  for (const id of new Set([...model.docs.keys(), ...state.records.map((r) => r.id)])) {
    const doc: StoredDoc | null = await store.loadDoc(id);
    expect(doc).toEqual(model.docs.get(id) ?? null);
  }
}

describe('FileSyncStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vp-store-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const storeDir = () => join(dir, 'state');

  describe('the SyncStore contract', () => {
    it('is empty until reset, and refuses to save before it is bound to a device', async () => {
      const store = new FileSyncStore(storeDir());
      expect(await store.load()).toBeNull();
      expect(await store.loadDoc('x')).toBeNull();
      await expect(store.commit({ seq: 1 })).rejects.toThrow(/must be reset \(bound to this device\)/);
      await store.reset(header);
      expect(await store.load()).toEqual({ header, seq: 0, settings: '', records: [], peers: [] } satisfies StoredState);
      expect((statSync(storeDir()).mode & 0o777).toString(8)).toBe('700');
    });

    it('keeps every commit, across processes (a fresh instance reads it all back)', async () => {
      const store = new FileSyncStore(storeDir());
      await store.reset(header);
      for (let i = 1; i <= 60; i += 1) await store.commit(batchOf(i));
      await expectHolds(store, Model.after(60));
      await expectHolds(new FileSyncStore(storeDir()), Model.after(60));
    });

    it('records are replaced by id; forget drops the record and its document', async () => {
      const store = new FileSyncStore(storeDir());
      await store.reset(header);
      const first = batchOf(1).records![0]!;
      await store.commit({ records: [first], docs: [{ id: first.id, update: new Uint8Array([1]), base: 'b' }] });
      await store.commit({ records: [{ ...first, path: 'moved.md' }] });
      expect((await store.load())!.records).toEqual([{ ...first, path: 'moved.md' }]);
      await store.commit({ forget: [first.id] });
      expect((await store.load())!.records).toEqual([]);
      expect(await store.loadDoc(first.id)).toBeNull();
      expect(await new FileSyncStore(storeDir()).loadDoc(first.id)).toBeNull();
    });

    it('documents: updates appended in order, replaced by a compaction, and a base that changes only when given', async () => {
      const store = new FileSyncStore(storeDir());
      await store.reset(header);
      await store.commit({ docs: [{ id: 'd', update: new Uint8Array([1, 2]) }] });
      expect(await store.loadDoc('d')).toEqual({ updates: [new Uint8Array([1, 2])], base: '' });
      await store.commit({ docs: [{ id: 'd', update: new Uint8Array([3]), base: 'héllo\n' }] });
      await store.commit({ docs: [{ id: 'd', update: new Uint8Array([4]) }] });
      expect(await store.loadDoc('d')).toEqual({ updates: [new Uint8Array([1, 2]), new Uint8Array([3]), new Uint8Array([4])], base: 'héllo\n' });
      await store.commit({ docs: [{ id: 'd', update: new Uint8Array([9, 9]), replace: true }] });
      await store.commit({ docs: [{ id: 'd', base: '' }] });
      await store.commit({ docs: [{ id: 'd', replace: true }] }); // replace concerns an update: without one, nothing is replaced
      for (const reader of [store, new FileSyncStore(storeDir())]) expect(await reader.loadDoc('d')).toEqual({ updates: [new Uint8Array([9, 9])], base: '' });
    });

    it('reset erases everything and binds the store to a new header', async () => {
      const store = new FileSyncStore(storeDir());
      await store.reset(header);
      for (let i = 1; i <= 10; i += 1) await store.commit(batchOf(i));
      const other: StoreHeader = { ...header, deviceId: 'device-b', epoch: 'fedcba9876543210' };
      await store.reset(other);
      const empty = { header: other, seq: 0, settings: '', records: [], peers: [] };
      expect(await store.load()).toEqual(empty);
      expect(await store.loadDoc(batchOf(1).records![0]!.id)).toBeNull();
      expect(await new FileSyncStore(storeDir()).load()).toEqual(empty);
      expect(readdirSync(storeDir()).filter((name) => name.startsWith('docs-'))).toHaveLength(1);
    });

    it('a store copied from another device loads with that device in its header (for the engine to reset)', async () => {
      const store = new FileSyncStore(storeDir());
      await store.reset({ ...header, deviceId: 'someone-else' });
      await store.commit(batchOf(1));
      expect((await new FileSyncStore(storeDir()).load())!.header.deviceId).toBe('someone-else');
    });

    it('commits run one after another even when the caller does not wait, and a read may see a pending one or not', async () => {
      const store = new FileSyncStore(storeDir());
      await store.reset(header);
      const pending = Array.from({ length: 30 }, (_, i) => store.commit(batchOf(i + 1)));
      const doc = await store.loadDoc(batchOf(1).docs![0]!.id);
      expect(doc === null || doc.updates.length >= 1).toBe(true);
      await Promise.all(pending);
      await expectHolds(new FileSyncStore(storeDir()), Model.after(30));
    });
  });

  describe('incremental', () => {
    it('one edit appends one small frame and rewrites nothing', async () => {
      const store = new FileSyncStore(storeDir());
      await store.reset(header);
      for (let i = 1; i <= 200; i += 1) await store.commit(batchOf(i));
      const index = join(storeDir(), 'index.log');
      const before = await readFile(index);
      const inode = statSync(index).ino;
      await store.commit({ seq: 201, records: [batchOf(201).records![0]!] });
      const after = await readFile(index);
      expect(statSync(index).ino).toBe(inode);
      expect(after.subarray(0, before.length).equals(before)).toBe(true);
      expect(after.length - before.length).toBeLessThan(800);
    });

    it('compacts when the log is several times the live state, keeping everything', async () => {
      const store = new FileSyncStore(storeDir(), { compactMinBytes: 16 * 1024 });
      await store.reset(header);
      const sizes: number[] = [];
      for (let i = 1; i <= 400; i += 1) {
        await store.commit(batchOf(i));
        sizes.push(statSync(join(storeDir(), 'index.log')).size);
      }
      // It shrank at least once, and never grew past a few times the live size.
      expect(sizes.some((size, i) => i > 0 && size < sizes[i - 1]!)).toBe(true);
      const docs = readdirSync(storeDir()).filter((name) => name.startsWith('docs-'));
      expect(docs).toHaveLength(1);
      expect(readdirSync(storeDir()).filter((name) => name.includes('.tmp-'))).toEqual([]);
      await expectHolds(store, Model.after(400));
      await expectHolds(new FileSyncStore(storeDir()), Model.after(400));
    });
  });

  describe('damage', () => {
    async function storeWith(count: number): Promise<string> {
      const store = new FileSyncStore(storeDir());
      await store.reset(header);
      for (let i = 1; i <= count; i += 1) await store.commit(batchOf(i));
      return join(storeDir(), 'index.log');
    }

    it('a torn tail is cut on load and what came before is kept; saving goes on after it', async () => {
      const index = await storeWith(20);
      const good = statSync(index).size;
      await appendFile(index, Buffer.from([200, 1, 0, 0, 9, 9, 9, 9, 1, 2, 3])); // a frame header promising 456 bytes, then 3
      const store = new FileSyncStore(storeDir());
      await expectHolds(store, Model.after(20));
      expect(statSync(index).size).toBe(good);
      await store.commit(batchOf(21));
      await expectHolds(new FileSyncStore(storeDir()), Model.after(21));
      expect(readdirSync(storeDir()).filter((name) => name.includes('damaged'))).toEqual([]);
    });

    it('a corrupted byte in the last frame loses only that commit, and a copy of the damaged file is kept', async () => {
      const index = await storeWith(20);
      const handle = await open(index, 'r+');
      const size = (await handle.stat()).size;
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, size - 5);
      byte[0] = byte[0]! ^ 0x40;
      await handle.write(byte, 0, 1, size - 5);
      await handle.close();
      await expectHolds(new FileSyncStore(storeDir()), Model.after(19));
      expect(readdirSync(storeDir()).filter((name) => name.startsWith('index.log.damaged-'))).toHaveLength(1);
    });

    it('a corrupted byte in the middle loads as the commits before it', async () => {
      const index = await storeWith(30);
      const bytes = await readFile(index);
      // Find the start of the 10th batch frame (after the snapshot) by walking the frame lengths.
      let at = 8;
      for (let frame = 0; frame < 10; frame += 1) at += 8 + bytes.readUInt32LE(at);
      bytes[at + 20] = bytes[at + 20]! ^ 0xff;
      await writeFile(index, bytes);
      await expectHolds(new FileSyncStore(storeDir()), Model.after(9));
    });

    it('a file that is not a store at all loads as empty, is kept aside, and can be reset', async () => {
      await mkdir(storeDir(), { recursive: true });
      await writeFile(join(storeDir(), 'index.log'), 'garbage that is not a store');
      const store = new FileSyncStore(storeDir());
      expect(await store.load()).toBeNull();
      expect(readdirSync(storeDir()).filter((name) => name.startsWith('index.log.damaged-'))).toHaveLength(1);
      await store.reset(header);
      await store.commit(batchOf(1));
      await expectHolds(new FileSyncStore(storeDir()), Model.after(1));
    });

    it("a damaged document is reported as such, and the others still load", async () => {
      await storeWith(12);
      const docsFile = join(storeDir(), readdirSync(storeDir()).find((name) => name.startsWith('docs-'))!);
      const bytes = await readFile(docsFile);
      bytes[3] = bytes[3]! ^ 0xff; // inside the first document written (record 1's)
      await writeFile(docsFile, bytes);
      const store = new FileSyncStore(storeDir());
      const id1 = batchOf(1).docs![0]!.id;
      await expect(store.loadDoc(id1)).rejects.toThrow(new StorageError(`The saved history of a note (${id1}) in ${storeDir()} is damaged. Vault Peers rebuilds it from the note on disk and from your other devices; if this repeats, check the disk.`));
      expect(await store.loadDoc(batchOf(2).docs![0]!.id)).toEqual(Model.after(12).docs.get(batchOf(2).docs![0]!.id));
    });

    it('a failed save says why, changes nothing, and the next one works', async () => {
      const store = new FileSyncStore(storeDir());
      await store.reset(header);
      await store.commit(batchOf(1));
      const docsFile = join(storeDir(), readdirSync(storeDir()).find((name) => name.startsWith('docs-'))!);
      const saved = await readFile(docsFile);
      await rm(docsFile);
      await mkdir(docsFile); // a folder where the docs file should be
      await expect(store.commit(batchOf(2))).rejects.toThrow(`Could not save the sync state in ${storeDir()}: a folder is where a file should be.`);
      await rm(docsFile, { recursive: true });
      await writeFile(docsFile, saved);
      await store.commit(batchOf(2));
      await expectHolds(new FileSyncStore(storeDir()), Model.after(2));
    });

    it('CRC-32 matches zlib (the fallback for Node before 20.15 too)', () => {
      const data = Buffer.from('The quick brown fox jumps over the lazy dog');
      expect(crc32(data)).toBe(0x414fa339);
      expect(crc32ForSpec.js(data)).toBe(0x414fa339);
    });
  });

  it('refuses to live inside the synced folder', async () => {
    const vault = join(dir, 'vault');
    await mkdir(vault);
    const store = new FileSyncStore(join(vault, '.state'), { syncedFolder: vault });
    await expect(store.reset(header)).rejects.toThrow(`The sync state directory ${join(vault, '.state')} is inside the synced folder ${vault}. Choose a state directory (--dir) outside it.`);
    await expect(store.load()).rejects.toThrow(/inside the synced folder/);
    expect(readdirSync(vault)).toEqual([]);
    await expect(new FileSyncStore(join(dir, 'elsewhere'), { syncedFolder: vault }).load()).resolves.toBeNull();
  });

  describe('kill -9 while committing (real processes)', () => {
    const committer = new ChildScript(`
      import { FileSyncStore } from './sync-store-file';
      const batchOf = ${batchOf.toString()};
      const [dir, compactMin, slack] = process.argv.slice(2);
      const header = ${JSON.stringify(header)};
      void (async () => {
        const store = new FileSyncStore(dir!, { compactMinBytes: Number(compactMin), slack: Number(slack) });
        const state = await store.load();
        if (!state) await store.reset(header);
        let i = state?.seq ?? 0;
        console.log('ready ' + i);
        for (;;) {
          i += 1;
          console.log('committing ' + i);
          await store.commit(batchOf(i));
          console.log('committed ' + i);
        }
      })();
    `);
    afterAll(() => committer.dispose());

    /** The seq recorded in the index's first frame: it changes when a compaction rewrites the index. */
    async function snapshotSeq(): Promise<number> {
      const bytes = await readFile(join(storeDir(), 'index.log'));
      return (JSON.parse(bytes.subarray(16, 16 + bytes.readUInt32LE(8)).toString('utf8')) as { seq: number }).seq;
    }

    /** @returns how many rounds found the index rewritten since the round before (a compaction ran) */
    async function killLoop(compactMin: number, slack: number, rounds: number): Promise<number> {
      let expected = 0;
      let snapshot = -1;
      let compacted = 0;
      for (let round = 0; round < rounds; round += 1) {
        const child = committer.start([storeDir(), String(compactMin), String(slack)]);
        await child.waitFor((lines) => lines.some((line) => line.startsWith('ready')), 'the committer to start');
        expect(child.lines[0]).toBe(`ready ${expected}`);
        const target = expected + 5 + round * 7;
        await child.waitFor((lines) => lines.includes(`committed ${target}`), `commit ${target}`);
        await child.kill();
        const acked = Math.max(...child.lines.filter((l) => l.startsWith('committed ')).map((l) => Number(l.slice(10))));
        const started = Math.max(...child.lines.filter((l) => l.startsWith('committing ')).map((l) => Number(l.slice(11))));
        const state = (await new FileSyncStore(storeDir()).load())!;
        // A prefix: every acknowledged commit, and at most the one that was in flight.
        expect(state.seq).toBeGreaterThanOrEqual(acked);
        expect(state.seq).toBeLessThanOrEqual(started);
        await expectHolds(new FileSyncStore(storeDir()), Model.after(state.seq));
        expected = state.seq;
        const now = await snapshotSeq();
        if (snapshot !== -1 && now !== snapshot) compacted += 1;
        snapshot = now;
      }
      return compacted;
    }

    it('loads as a prefix of the commits after each kill, and carries on', async () => {
      expect(await killLoop(64 * 1024 * 1024, 4, 4)).toBe(0);
    }, 120_000);

    it('with compaction happening every few commits, a kill in the middle of one loses nothing either', async () => {
      // Slack 1.05: the index is rewritten (and the docs file too, often) at nearly every commit, so most kills land in one.
      expect(await killLoop(1024, 1.05, 8)).toBe(7);
      expect(readdirSync(storeDir()).filter((name) => name.startsWith('docs-'))).toHaveLength(1);
    }, 120_000);
  });
});
