import type { FileRecord, StoreHeader, SyncStore } from '../../src/sync/ports';

/**
 * The SyncStore contract, for any implementation: the in-memory one here,
 * the file store of the headless peer and the IndexedDB store of the plugin
 * next (call `describeSyncStoreContract` from their spec with a factory).
 * `reopen` gives a new instance over the same storage, as after a restart.
 */
export interface StoreUnderTest {
  readonly store: SyncStore;
  reopen(): Promise<SyncStore>;
}

export const HEADER: StoreHeader = { format: 1, deviceId: 'ab'.repeat(32), folderId: 'vault', epoch: '0123456789abcdef' };

export function record(n: number, fields: Partial<FileRecord> = {}): FileRecord {
  return {
    id: n.toString(16).padStart(32, '0'),
    path: `notes/${n}.md`,
    kind: 'text',
    deleted: false,
    hash: 'a'.repeat(64),
    size: n,
    changed: { t: 1_764_000_000_000 + n, d: 'abababab' },
    moved: { t: 0, d: '' },
    version: { '01234567': n },
    lived: { '01234567': n },
    seq: n,
    sv: new Uint8Array([1, n % 256, 2]),
    disk: { path: `notes/${n}.md`, hash: 'b'.repeat(64), size: n, mtime: 1_764_000_000_000.5 },
    ...fields,
  };
}

export function describeSyncStoreContract(name: string, make: () => Promise<StoreUnderTest>): void {
  describe(`${name} honours the SyncStore contract`, () => {
    it('loads as empty before anything is written', async () => {
      const { store } = await make();
      expect(await store.load()).toBeNull();
    });

    it('keeps records, peers, the sequence number and the settings across a restart', async () => {
      const { store, reopen } = await make();
      await store.reset(HEADER);
      await store.commit({ seq: 3, settings: 'x', records: [record(1), record(2)], peers: [{ deviceId: 'cd'.repeat(32), epoch: 'e', seen: 4, acked: 2, ackedEpoch: HEADER.epoch }] });
      await store.commit({ seq: 4, records: [record(2, { path: 'moved.md', seq: 4 })] });
      const state = await (await reopen()).load();
      expect(state?.header).toEqual(HEADER);
      expect(state?.seq).toBe(4);
      expect(state?.settings).toBe('x');
      expect([...(state?.records ?? [])].sort((a, b) => a.seq - b.seq)).toEqual([record(1), record(2, { path: 'moved.md', seq: 4 })]);
      expect(state?.peers).toEqual([{ deviceId: 'cd'.repeat(32), epoch: 'e', seen: 4, acked: 2, ackedEpoch: HEADER.epoch }]);
    });

    it("keeps a note's updates in order, replaces them on compaction, and keeps its base text", async () => {
      const { store, reopen } = await make();
      await store.reset(HEADER);
      const id = record(1).id;
      await store.commit({ docs: [{ id, update: new Uint8Array([1]), base: 'one' }] });
      await store.commit({ docs: [{ id, update: new Uint8Array([2]) }] });
      expect(await (await reopen()).loadDoc(id)).toEqual({ updates: [new Uint8Array([1]), new Uint8Array([2])], base: 'one' });
      await store.commit({ docs: [{ id, update: new Uint8Array([3]), replace: true, base: 'three' }] });
      expect(await (await reopen()).loadDoc(id)).toEqual({ updates: [new Uint8Array([3])], base: 'three' });
      expect(await store.loadDoc(record(9).id)).toBeNull();
    });

    it('forgets a record with its document', async () => {
      const { store, reopen } = await make();
      await store.reset(HEADER);
      await store.commit({ records: [record(1)], docs: [{ id: record(1).id, update: new Uint8Array([1]), base: '' }] });
      await store.commit({ forget: [record(1).id] });
      const again = await reopen();
      expect((await again.load())?.records).toEqual([]);
      expect(await again.loadDoc(record(1).id)).toBeNull();
    });

    it('erases everything on reset and belongs to the new header', async () => {
      const { store, reopen } = await make();
      await store.reset(HEADER);
      await store.commit({ seq: 9, records: [record(1)], docs: [{ id: record(1).id, update: new Uint8Array([1]), base: 'x' }] });
      const other = { ...HEADER, deviceId: 'ef'.repeat(32), epoch: 'fedcba9876543210' };
      await store.reset(other);
      const again = await reopen();
      expect(await again.load()).toEqual({ header: other, seq: 0, settings: '', records: [], peers: [] });
      expect(await again.loadDoc(record(1).id)).toBeNull();
    });

    it('applies commits in order, each whole', async () => {
      const { store, reopen } = await make();
      await store.reset(HEADER);
      await Promise.all([1, 2, 3].map((n) => store.commit({ seq: n, records: [record(n)] })));
      const state = await (await reopen()).load();
      expect(state?.seq).toBe(3);
      expect(state?.records).toHaveLength(3);
    });
  });
}
