import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { VaultSyncEngine, defaultFilter } from '../../src/sync';
import { IndexedDbSyncStore, type IndexedDbHost } from '../../src/plugin/vault/sync-store-idb';
import { HEADER, describeSyncStoreContract, record } from '../support/sync-store-contract';
import { MemoryVault } from '../support/memory-vault';
import { nodeIdOf, nodeSha256 } from '../support/sync-harness';

const host = (): IndexedDbHost => ({ factory: new IDBFactory(), keyRange: IDBKeyRange });

describeSyncStoreContract('the IndexedDB store (fake-indexeddb)', async () => {
  const profile = host();
  const opened: IndexedDbSyncStore[] = [];
  const open = async (): Promise<IndexedDbSyncStore> => {
    const store = await IndexedDbSyncStore.open('vault-peers-sync-test', profile);
    opened.push(store);
    return store;
  };
  return { store: await open(), reopen: open };
});

/** What copying Obsidian's app data to another computer does to a database: every row, as it is. */
async function copyDatabase(from: IDBFactory, to: IDBFactory, name: string): Promise<void> {
  const source = await IndexedDbSyncStore.open(name, { factory: from, keyRange: IDBKeyRange });
  (await IndexedDbSyncStore.open(name, { factory: to, keyRange: IDBKeyRange })).close();
  source.close();
  const openRaw = (factory: IDBFactory): Promise<IDBDatabase> =>
    new Promise((resolve, reject) => {
      const req = factory.open(name);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  const [a, b] = [await openRaw(from), await openRaw(to)];
  for (const storeName of Array.from(a.objectStoreNames)) {
    const rows = await new Promise<{ keys: IDBValidKey[]; values: unknown[] }>((resolve) => {
      const store = a.transaction(storeName).objectStore(storeName);
      const keys = store.getAllKeys();
      const values = store.getAll();
      values.onsuccess = () => resolve({ keys: keys.result, values: values.result });
    });
    await new Promise<void>((resolve) => {
      const tx = b.transaction(storeName, 'readwrite');
      const store = tx.objectStore(storeName);
      rows.values.forEach((value, i) => (store.keyPath === null ? store.put(value, rows.keys[i]) : store.put(value)));
      tx.oncomplete = () => resolve();
    });
  }
  a.close();
  b.close();
}

describe('the IndexedDB store', () => {
  it('keeps a large note document as one row per update and loads it in order', async () => {
    const store = await IndexedDbSyncStore.open('big', host());
    await store.reset(HEADER);
    const id = record(1).id;
    for (let n = 0; n < 100; n += 1) await store.commit({ docs: [{ id, update: new Uint8Array([n]), ...(n === 0 ? { base: 'first' } : {}) }] });
    // Two writes for one note in one batch apply in order.
    await store.commit({ docs: [{ id, update: new Uint8Array([100]) }, { id, update: new Uint8Array([101]), base: 'last' }] });
    const doc = await store.loadDoc(id);
    expect(doc?.updates.map((u) => u[0])).toEqual(Array.from({ length: 102 }, (_, n) => n));
    expect(doc?.base).toBe('last');
    store.close();
  });

  it('one copied from another device is not trusted: the engine rebuilds it from this vault, and a file missing here is not taken for a delete', async () => {
    const laptop = { id: nodeIdOf('L'), profile: new IDBFactory() };
    const desktop = { id: nodeIdOf('D'), profile: new IDBFactory() };
    const open = async (device: typeof laptop, vault: MemoryVault) => {
      const store = await IndexedDbSyncStore.open('vault-peers-sync-1', { factory: device.profile, keyRange: IDBKeyRange });
      const engine = await VaultSyncEngine.open({ deviceId: device.id, files: vault, store, filter: defaultFilter('.obsidian'), sha256: nodeSha256, debounceMs: 5 });
      return { store, engine };
    };

    // The laptop synced a vault with Gone.md in it.
    const laptopVault = new MemoryVault({ renames: 'host' });
    laptopVault.put('Gone.md', 'only on the laptop\n');
    laptopVault.put('Kept.md', 'everywhere\n');
    const first = await open(laptop, laptopVault);
    const laptopEpoch = (await first.store.load())!.header.epoch;
    await first.engine.close();
    first.store.close();

    // Its app data is copied to the desktop, whose vault has no Gone.md.
    await copyDatabase(laptop.profile, desktop.profile, 'vault-peers-sync-1');
    const desktopVault = new MemoryVault({ renames: 'host' });
    desktopVault.put('Kept.md', 'everywhere\n');
    const second = await open(desktop, desktopVault);
    const state = (await second.store.load())!;
    expect(state.header.deviceId).toBe(desktop.id);
    expect(state.header.epoch).not.toBe(laptopEpoch);
    // Trusted, the copy would record Gone.md as deleted here and tell every peer to delete it.
    const records = second.engine.records();
    expect(records.map((r) => [r.path, r.deleted])).toEqual([['Kept.md', false]]);
    await second.engine.close();
    second.store.close();
  });
});
