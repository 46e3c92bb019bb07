import { Subject, type Observable } from 'rxjs';
import { shortId } from '../core/model';
import { toHex } from '../core/bytes';
import { FolderIndex } from './folder-index';
import type { Sha256 } from './hash';
import { NoteCache } from './note-cache';
import { SyncFilter, type FilterSettings } from './paths';
import type { DocWrite, FileRecord, PeerMark, Stamp, StoreHeader, SyncStore, VaultFiles } from './ports';
import type { DocUpdate } from './wire';

/**
 * One synced folder on this device: its index, notes, store and files, and
 * the one queue every change goes through (a local edit, a peer's change, a
 * write to disk), so that no two of them interleave on a file. Sessions with
 * peers and the disk watcher all talk to the folder; the folder knows nothing
 * of sessions.
 */

/** The layout version of what this engine stores. */
export const STORE_FORMAT = 1;

export interface FolderOptions {
  /** This device's node id. */
  readonly deviceId: string;
  /** Which folder this is; peers must sync the same one. */
  readonly folderId: string;
  readonly filter: FilterSettings;
  /** Notes' documents kept in memory at most (least recently used evicted). */
  readonly docCacheSize: number;
  /** The clock (ms since 1970): the scheduler's `now` in production and in marble specs. */
  readonly now: () => number;
  /** Random bytes, for a new store epoch. */
  readonly randomBytes: (length: number) => Uint8Array;
  readonly sha256: Sha256;
  /** Diagnostics: called with what the engine decided at each step (specs use it to explain a failure). */
  readonly trace?: (step: string, detail: unknown) => void;
}

/** What peers need to hear about: records whose sequence number moved, and note updates to push with them. */
export interface ChangeSet {
  readonly records: readonly FileRecord[];
  /** Ids of records that are exactly what `origin` sent (no need to send them back to it). */
  readonly echoes: ReadonlySet<string>;
  readonly docs: readonly DocUpdate[];
  /** The peer whose change this applied (its own changes need not go back to it), or null for local ones. */
  readonly origin: string | null;
}

/** What happened that a person may want to know, as the activity log shows it. */
export type FolderEvent =
  | { readonly type: 'merged'; readonly path: string; readonly peer: string | null }
  | { readonly type: 'conflict'; readonly path: string; readonly copy: string; readonly peer: string | null }
  | { readonly type: 'not-synced'; readonly path: string; readonly reason: string }
  /** A path reported not synced is synced again, or gone (renamed, deleted): it leaves the not-synced list. */
  | { readonly type: 'now-synced'; readonly path: string }
  | { readonly type: 'error'; readonly message: string };

export class Folder {
  readonly index: FolderIndex;
  readonly notes: NoteCache;
  readonly filter: SyncFilter;
  /** This device's id in stamps (conflict names show it). */
  readonly short: string;
  /** This device's id in version vectors: new with each store epoch. */
  readonly replica: string;
  readonly peers = new Map<string, PeerMark>();
  private lastSeq: number;
  private published: number;
  private tail: Promise<unknown> = Promise.resolve();
  /** Attachment contents this device needs and has nowhere on disk: content hash → the records that need it. */
  readonly wanted = new Map<string, Set<string>>();
  private readonly wants = new Subject<string>();
  /** Emits a content hash when it becomes wanted. */
  readonly wanted$: Observable<string> = this.wants.asObservable();
  /** When a write of each record was first refused by a compare-and-swap, since its last success (see writer.ts `place`). */
  readonly casMisses = new Map<string, number>();
  /** Content hashes this run staged and did not commit yet (discarded once nothing needs them). */
  readonly staged = new Set<string>();
  /** Content hashes being fetched right now (their staging is in use). */
  readonly fetching = new Set<string>();
  /** Chunk hashes of files recently served to peers, by path, for the size and time they were read at. */
  readonly chunkHashes = new LruMap<string, { size: number; mtime: number; hash: string; chunks: Uint8Array[] }>(16);
  /** Records whose file on this device's disk is not what they say yet (kept up to date by `commit`). */
  readonly pendingDisk = new Set<string>();
  private readonly idle = new Subject<void>();
  /** Emits after each task. */
  readonly idle$: Observable<void> = this.idle.asObservable();
  private readonly changes = new Subject<ChangeSet>();
  private readonly events = new Subject<FolderEvent>();
  readonly changes$: Observable<ChangeSet> = this.changes.asObservable();
  readonly events$: Observable<FolderEvent> = this.events.asObservable();
  private readonly notSyncedPaths = new Set<string>();
  private closed = false;

  private constructor(
    readonly files: VaultFiles,
    readonly store: SyncStore,
    readonly options: FolderOptions,
    readonly header: StoreHeader,
    /** The store was empty or reset: files found by the first scan are enrolled as shared history. */
    readonly fresh: boolean,
    seq: number,
    records: readonly FileRecord[],
    peers: readonly PeerMark[],
  ) {
    this.index = new FolderIndex(records);
    this.filter = new SyncFilter(options.filter);
    this.short = shortId(options.deviceId);
    this.replica = header.epoch.slice(0, 8);
    this.notes = new NoteCache(store, this.replica, options.docCacheSize);
    this.lastSeq = seq;
    this.published = seq;
    for (const mark of peers) this.peers.set(mark.deviceId, mark);
    for (const record of records) this.track(record);
  }

  private track(record: FileRecord): void {
    if (needsDisk(record) && !this.filter.excludedReason(record.path, record.size)) this.pendingDisk.add(record.id);
    else this.pendingDisk.delete(record.id);
  }

  /**
   * Loads the folder's state, or starts afresh when the store is empty, of
   * another format, or belongs to another device or folder (a copied store
   * is rebuilt from the folder, never trusted).
   */
  static async open(files: VaultFiles, store: SyncStore, options: FolderOptions): Promise<Folder> {
    const state = await store.load();
    const ours = state && state.header.deviceId === options.deviceId && state.header.folderId === options.folderId && state.header.format === STORE_FORMAT;
    const filter = new SyncFilter(options.filter);
    if (!state || !ours) {
      const header: StoreHeader = { format: STORE_FORMAT, deviceId: options.deviceId, folderId: options.folderId, epoch: toHex(options.randomBytes(8)) };
      await store.reset(header);
      await store.commit({ settings: filter.fingerprint() });
      return new Folder(files, store, options, header, true, 0, [], []);
    }
    let peers = state.peers;
    if (state.settings !== filter.fingerprint()) {
      // What this device syncs changed: ask every peer for its whole index again.
      peers = peers.map((mark) => ({ ...mark, seen: 0 }));
      await store.commit({ settings: filter.fingerprint(), peers });
    }
    return new Folder(files, store, options, state.header, false, state.seq, state.records, peers);
  }

  get seq(): number {
    return this.lastSeq;
  }

  get epoch(): string {
    return this.header.epoch;
  }

  /** The next sequence number, for a record (or a version vector entry) that changes now. */
  nextSeq(): number {
    this.lastSeq += 1;
    return this.lastSeq;
  }

  stamp(): Stamp {
    return { t: this.options.now(), d: this.short };
  }

  /** Runs `task` after every task queued before it. A failing task does not stop the queue. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(() => (this.closed ? Promise.reject(new Error('The sync folder is closed.')) : task()));
    const after = (): void => {
      this.notes.trim();
      if (!this.closed) this.idle.next();
    };
    this.tail = result.then(after, after);
    return result;
  }

  /** Waits for every queued task. */
  settled(): Promise<void> {
    return this.tail.then(() => undefined);
  }

  /**
   * Stores records, note updates and peer marks in one atomic batch, then
   * updates the index and tells sessions about records that changed (those
   * with a sequence number not yet published), with `push` updates.
   */
  async commit(change: {
    readonly records?: readonly FileRecord[];
    readonly docs?: readonly DocWrite[];
    readonly peers?: readonly PeerMark[];
    readonly push?: readonly DocUpdate[];
    readonly origin?: string | null;
    readonly echoes?: ReadonlySet<string>;
  }): Promise<void> {
    const records = change.records ?? [];
    try {
      await this.store.commit({ seq: this.lastSeq, records, docs: change.docs ?? [], peers: change.peers ?? [] });
    } catch (error) {
      // The notes' documents were changed in memory for this commit: forget them, so they are reloaded as the
      // store has them and the change is taken again (from the disk, or the peer) instead of being lost from the store.
      for (const doc of change.docs ?? []) this.notes.drop(doc.id);
      for (const record of records) if (record.kind === 'text') this.notes.drop(record.id);
      throw error;
    }
    for (const record of records) {
      this.index.put(record);
      this.track(record);
    }
    for (const mark of change.peers ?? []) this.peers.set(mark.deviceId, mark);
    const fresh = records.filter((record) => record.seq > this.published);
    this.published = Math.max(this.published, this.lastSeq);
    if (fresh.length > 0 || (change.push?.length ?? 0) > 0) {
      this.changes.next({ records: fresh, docs: change.push ?? [], origin: change.origin ?? null, echoes: change.echoes ?? new Set() });
    }
  }

  want(hash: string, id: string): void {
    const ids = this.wanted.get(hash);
    if (ids) ids.add(id);
    else this.wanted.set(hash, new Set([id]));
    // Said again for a record that joins a content already wanted (a conflict copy of a version a peer
    // announced before): the peer announcing it now may be the one to ask.
    this.wants.next(hash);
  }

  /** The records that still need content `hash` (pruning the ones that no longer do). */
  wanting(hash: string): FileRecord[] {
    const found: FileRecord[] = [];
    for (const id of this.wanted.get(hash) ?? []) {
      const record = this.index.get(id);
      if (record && record.kind === 'blob' && !record.deleted && record.hash === hash && record.disk?.hash !== hash) found.push(record);
    }
    if (found.length === 0) this.wanted.delete(hash);
    return found;
  }

  /** Whether a record still needs content `hash` on disk. */
  needsContent(hash: string): boolean {
    for (const id of this.pendingDisk) {
      const record = this.index.get(id);
      if (record?.kind === 'blob' && !record.deleted && record.hash === hash) return true;
    }
    return false;
  }

  emit(event: FolderEvent): void {
    this.events.next(event);
  }

  /** A file that stays on this device, with the reason (listed until `nowSynced`). */
  notSynced(path: string, reason: string): void {
    this.notSyncedPaths.add(path);
    this.emit({ type: 'not-synced', path, reason });
  }

  /** The file at `path` syncs again, or is gone: whatever was said about it no longer holds. */
  nowSynced(path: string): void {
    if (this.notSyncedPaths.delete(path)) this.emit({ type: 'now-synced', path });
  }

  /** Paths reported not synced, for a rescan to look at again. */
  get notSyncedNow(): ReadonlySet<string> {
    return this.notSyncedPaths;
  }

  peerMark(deviceId: string): PeerMark {
    return this.peers.get(deviceId) ?? { deviceId, epoch: '', seen: 0, acked: 0, ackedEpoch: '' };
  }

  /** Stops taking tasks; those already queued finish. */
  async close(): Promise<void> {
    await this.settled();
    this.closed = true;
    this.notes.clear();
    this.changes.complete();
    this.events.complete();
    this.wants.complete();
    this.idle.complete();
  }
}

/** A map that keeps its `capacity` most recently set entries. */
export class LruMap<K, V> {
  private readonly entries = new Map<K, V>();
  constructor(private readonly capacity: number) {}
  get(key: K): V | undefined {
    return this.entries.get(key);
  }
  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
  }
}

/** Whether a record's file on this device's disk is not what the record says yet. */
export function needsDisk(record: FileRecord): boolean {
  if (record.deleted) return record.disk !== null;
  // A note whose content has not arrived yet: nothing to write until it does.
  if (record.kind === 'text' && record.hash === '') return false;
  if (!record.disk) return true;
  return record.disk.path !== record.path || record.disk.hash !== record.hash;
}
