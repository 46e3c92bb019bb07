/**
 * Notes a peer sends are written several at a time and their records stored
 * in one batch after the files (src/sync/writer.ts `placeNotes`). These specs
 * hold that to the same guarantees as one note at a time: a kill between the
 * writes and the batch loses nothing and invents nothing, and every write is
 * still a compare-and-swap of its own.
 */
import type { StoreBatch } from '../../src/sync/ports';
import { NOTES_AT_ONCE } from '../../src/sync/writer';
import { MemorySyncStore } from '../support/memory-store';
import { Device, bothFinished, converged, deviceFleet, waitFor } from '../support/sync-harness';

const { devices, start, link } = deviceFleet();

/** More notes than are written at once, fewer than one frame or one batch holds. */
const NOTES = NOTES_AT_ONCE * 2 + 5;
const pathOf = (i: number): string => `notes/n${String(i).padStart(3, '0')}.md`;
const notes = (text: (i: number) => string): Record<string, string> => Object.fromEntries(Array.from({ length: NOTES }, (_, i) => [pathOf(i), text(i)]));

/**
 * Dies as a kill -9 would at the commit that stores notes the writer has
 * just put on disk: that commit never lands, and `crashed` is what the store
 * held at that moment.
 */
class DyingStore extends MemorySyncStore {
  armed = false;
  crashed: MemorySyncStore | null = null;
  notesInBatch = 0;
  private bury: (error: Error) => void = () => undefined;

  override commit(batch: StoreBatch): Promise<void> {
    const docs = batch.docs ?? [];
    const writtenNotes = docs.length > 1 && docs.every((d) => d.base !== undefined && d.update === undefined);
    if (!this.armed || !writtenNotes) return super.commit(batch);
    this.armed = false;
    this.crashed = this.snapshot();
    this.notesInBatch = docs.length;
    return new Promise((_, reject) => (this.bury = reject));
  }

  /** The dead engine's commit fails, so it can be closed. */
  release(): void {
    this.bury(new Error('killed'));
  }
}

/** A device whose store dies at its next batch of written notes. */
async function dyingDevice(name: string): Promise<{ device: Device; store: DyingStore }> {
  const device = new Device(name);
  const store = new DyingStore();
  device.store = store;
  await device.open();
  devices.push(device);
  return { device, store };
}

/** Kills `device` at the batch (see DyingStore) and starts it again on the folder as the kill left it and the store as it was. */
async function killAtBatch(device: Device, store: DyingStore, disconnect: () => void): Promise<Record<string, string>> {
  await waitFor(() => store.crashed !== null, 'the batch of written notes', 20_000);
  const tree = await device.vault.tree();
  disconnect();
  store.release();
  await device.engine.close().catch(() => undefined);
  // Nothing was written after the kill.
  expect(await device.vault.tree()).toEqual(tree);
  device.store = store.crashed!;
  await device.open();
  await device.engine.settled();
  return tree;
}

describe('notes written in groups, stored in one batch', () => {
  it('a kill after the files and before their batch: the restart takes them as written (no copies, no edit of its own), and the next sync agrees', async () => {
    // Edited after they were created, so no note's id is the one its current content would give it on enrollment.
    const a = await start('a', notes((i) => `note ${i}\n`));
    for (let i = 0; i < NOTES; i += 1) a.vault.put(pathOf(i), `note ${i}\nedited on a\n`);
    await waitFor(() => a.engine.records().every((r) => r.size > 10), 'the edits taken in');
    const { device: b, store } = await dyingDevice('b');
    store.armed = true;
    const first = link(a, b);

    const tree = await killAtBatch(b, store, () => first.disconnect());
    expect(store.notesInBatch).toBeGreaterThan(NOTES_AT_ONCE);
    expect(Object.keys(tree).length).toBeGreaterThan(NOTES_AT_ONCE);

    // The files the kill left are each record's file, not new files beside a peer's record of the same name.
    const ids = new Set(a.engine.records().map((r) => r.id));
    const records = b.engine.records();
    expect(records.filter((r) => !ids.has(r.id))).toEqual([]);
    for (const path of Object.keys(tree)) expect(records.find((r) => r.path === path)?.disk?.path).toBe(path);
    expect(b.vault.paths().filter((p) => p.includes('sync-conflict'))).toEqual([]);

    const versions = new Map(a.engine.records().map((r) => [r.id, JSON.stringify(r.version)]));
    const second = link(a, b);
    await waitFor(() => bothFinished(second), 'the sync after the restart');
    const synced = await converged([a, b]);
    expect(Object.keys(synced).sort()).toEqual(Object.keys(notes(() => '')).sort());
    for (let i = 0; i < NOTES; i += 1) expect(b.vault.text(pathOf(i))).toBe(`note ${i}\nedited on a\n`);
    // b made no change of its own out of its own writes: a's records are as they were.
    expect(a.engine.records().filter((r) => versions.get(r.id) !== JSON.stringify(r.version))).toEqual([]);
  });

  it("a kill after a batch of edits to notes both hold: the restart takes the new texts as written, without an edit of b's own", async () => {
    const a = await start('a', notes((i) => `note ${i}\n`));
    const { device: b, store } = await dyingDevice('b');
    const first = link(a, b);
    await waitFor(() => bothFinished(first), 'the first sync');
    await converged([a, b]);
    store.armed = true;
    for (let i = 0; i < NOTES; i += 1) a.vault.put(pathOf(i), `note ${i}\nsecond line from a\n`);

    await killAtBatch(b, store, () => first.disconnect());
    const mine = b.engine.records();
    const written = mine.filter((r) => r.disk?.hash === r.hash && r.size > 10);
    expect(written.length).toBeGreaterThan(1);
    // Each record whose file holds its new text says so, with the version a gave it: nothing for b to send.
    const theirs = new Map(a.engine.records().map((r) => [r.id, r]));
    for (const record of written) expect(record.version).toEqual(theirs.get(record.id)!.version);

    const second = link(a, b);
    await waitFor(() => bothFinished(second), 'the sync after the restart');
    await converged([a, b]);
    for (let i = 0; i < NOTES; i += 1) expect(b.vault.text(pathOf(i))).toBe(`note ${i}\nsecond line from a\n`);
    expect(b.vault.paths().filter((p) => p.includes('sync-conflict'))).toEqual([]);
  });

  it('each write of a group is its own compare-and-swap: notes another program changed just before are merged, the rest written', async () => {
    const a = await start('a', notes((i) => `first ${i}\nsecond ${i}\n`));
    const b = await start('b');
    const c = link(a, b);
    await waitFor(() => bothFinished(c), 'the first sync');
    await converged([a, b]);
    const raced = new Set<string>();
    const racing = (path: string): boolean => Number(/n(\d+)\.md$/u.exec(path)?.[1]) % 3 === 0;
    b.vault.beforeEngineWrite = (path) => {
      if (!racing(path) || raced.has(path)) return;
      raced.add(path);
      b.vault.put(path, `${b.vault.text(path)!}typed on b\n`);
    };
    for (let i = 0; i < NOTES; i += 1) a.vault.put(pathOf(i), `first ${i} from a\nsecond ${i}\n`);
    await waitFor(() => raced.size === Math.ceil(NOTES / 3), 'the races');
    await converged([a, b], 'both edits everywhere', 20_000);
    for (let i = 0; i < NOTES; i += 1) {
      const expected = `first ${i} from a\nsecond ${i}\n${i % 3 === 0 ? 'typed on b\n' : ''}`;
      expect([pathOf(i), a.vault.text(pathOf(i))]).toEqual([pathOf(i), expected]);
    }
    expect(b.vault.paths()).toEqual(a.vault.paths());
  });
});
