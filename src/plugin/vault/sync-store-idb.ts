import { VaultPeersError, errorMessage } from '../../core/errors';
import type { DocWrite, FileRecord, PeerMark, StoreBatch, StoreHeader, StoredDoc, StoredState, SyncStore } from '../../sync';

/**
 * The engine's state in IndexedDB: device-local (it lives in Obsidian's
 * own profile, never in the vault or its config folder, so nothing that
 * copies or syncs the vault carries it along), one database per vault on
 * this device. The engine binds it to this device's node id through the
 * header and rebuilds it if the header names another device.
 *
 * Layout (version 1): `meta` holds the header, sequence number and settings
 * fingerprint under one key; `records` (by file id) and `peers` (by device
 * id) hold one row each; a note's document is a `docs` row (base text and
 * the next update number) plus its updates in `updates` under
 * `[file id, n]`, so appending an update writes one row and loading a note
 * reads one key range. Each commit is one IndexedDB transaction: all of it
 * or none of it, in order.
 */

const META = 'meta';
const RECORDS = 'records';
const PEERS = 'peers';
const DOCS = 'docs';
const UPDATES = 'updates';
const STORES = [META, RECORDS, PEERS, DOCS, UPDATES];
const STATE_KEY = 'state';

interface MetaRow {
  readonly header: StoreHeader;
  readonly seq: number;
  readonly settings: string;
}

interface DocRow {
  readonly id: string;
  base: string;
  /** The number the next appended update gets. */
  next: number;
}

export interface IndexedDbHost {
  readonly factory: IDBFactory;
  readonly keyRange: typeof IDBKeyRange;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

function finished(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

export class IndexedDbSyncStore implements SyncStore {
  private closed = false;

  private constructor(
    private readonly db: IDBDatabase,
    private readonly host: IndexedDbHost,
  ) {
    // Another window upgrading the database, or it being deleted: let go rather than block it.
    db.onversionchange = () => this.close();
  }

  /** Opens (creating if need be) the database `name`. */
  static async open(name: string, host: IndexedDbHost = { factory: indexedDB, keyRange: IDBKeyRange }): Promise<IndexedDbSyncStore> {
    const opening = host.factory.open(name, 1);
    opening.onupgradeneeded = () => {
      const db = opening.result;
      db.createObjectStore(META);
      db.createObjectStore(RECORDS, { keyPath: 'id' });
      db.createObjectStore(PEERS, { keyPath: 'deviceId' });
      db.createObjectStore(DOCS, { keyPath: 'id' });
      db.createObjectStore(UPDATES);
    };
    try {
      return new IndexedDbSyncStore(await request(opening), host);
    } catch (error) {
      throw new VaultPeersError(`Vault Peers could not open its sync state in this app's storage (IndexedDB): ${errorMessage(error)}. Restart Obsidian; if it keeps happening, free some disk space.`);
    }
  }

  async load(): Promise<StoredState | null> {
    const tx = this.db.transaction([META, RECORDS, PEERS], 'readonly');
    const [meta, records, peers] = await Promise.all([
      request(tx.objectStore(META).get(STATE_KEY) as IDBRequest<MetaRow | undefined>),
      request(tx.objectStore(RECORDS).getAll() as IDBRequest<FileRecord[]>),
      request(tx.objectStore(PEERS).getAll() as IDBRequest<PeerMark[]>),
    ]);
    // Nothing stored yet, or a row this code never wrote: the engine starts afresh.
    if (!meta || typeof meta !== 'object' || !meta.header || typeof meta.header.deviceId !== 'string') return null;
    return { header: meta.header, seq: meta.seq, settings: meta.settings, records, peers };
  }

  async loadDoc(id: string): Promise<StoredDoc | null> {
    const tx = this.db.transaction([DOCS, UPDATES], 'readonly');
    const [row, updates] = await Promise.all([
      request(tx.objectStore(DOCS).get(id) as IDBRequest<DocRow | undefined>),
      request(tx.objectStore(UPDATES).getAll(this.updatesOf(id)) as IDBRequest<Uint8Array[]>),
    ]);
    return row ? { updates, base: row.base } : null;
  }

  async commit(batch: StoreBatch): Promise<void> {
    const tx = this.db.transaction(STORES, 'readwrite');
    const done = finished(tx);
    const meta = tx.objectStore(META);
    if (batch.seq !== undefined || batch.settings !== undefined) {
      const read = meta.get(STATE_KEY) as IDBRequest<MetaRow | undefined>;
      read.onsuccess = () => {
        const row = read.result;
        if (!row) return;
        meta.put({ ...row, ...(batch.seq !== undefined ? { seq: batch.seq } : {}), ...(batch.settings !== undefined ? { settings: batch.settings } : {}) }, STATE_KEY);
      };
    }
    const records = tx.objectStore(RECORDS);
    for (const record of batch.records ?? []) records.put(record);
    const docs = tx.objectStore(DOCS);
    const updates = tx.objectStore(UPDATES);
    for (const id of batch.forget ?? []) {
      records.delete(id);
      docs.delete(id);
      updates.delete(this.updatesOf(id));
    }
    const peers = tx.objectStore(PEERS);
    for (const mark of batch.peers ?? []) peers.put(mark);
    for (const [id, writes] of groupById(batch.docs ?? [])) {
      const read = docs.get(id) as IDBRequest<DocRow | undefined>;
      read.onsuccess = () => {
        const row: DocRow = read.result ?? { id, base: '', next: 0 };
        for (const write of writes) {
          if (write.update && write.replace) {
            updates.delete(this.updatesOf(id));
            updates.put(write.update, [id, 0]);
            row.next = 1;
          } else if (write.update) {
            updates.put(write.update, [id, row.next]);
            row.next += 1;
          }
          if (write.base !== undefined) row.base = write.base;
        }
        docs.put(row);
      };
    }
    await done;
  }

  async reset(header: StoreHeader): Promise<void> {
    const tx = this.db.transaction(STORES, 'readwrite');
    const done = finished(tx);
    for (const name of STORES) tx.objectStore(name).clear();
    tx.objectStore(META).put({ header, seq: 0, settings: '' } satisfies MetaRow, STATE_KEY);
    await done;
  }

  /** Closes the connection (on unload). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private updatesOf(id: string): IDBKeyRange {
    return this.host.keyRange.bound([id, 0], [id, Number.POSITIVE_INFINITY]);
  }
}

function groupById(writes: readonly DocWrite[]): Map<string, DocWrite[]> {
  const grouped = new Map<string, DocWrite[]>();
  for (const write of writes) grouped.set(write.id, [...(grouped.get(write.id) ?? []), write]);
  return grouped;
}
