import type { Observable } from 'rxjs';

/**
 * Ports of the sync engine: the synced folder (`VaultFiles`) and the engine's
 * own state (`SyncStore`). Adapters implement them: a Node folder and a
 * file-backed store for the headless peer, the Obsidian vault and an
 * IndexedDB store for the plugin, in-memory ones for specs. Everything here
 * is data in, data out: no adapter needs to understand the sync protocol.
 *
 * Paths (`VaultPath`) are relative to the synced folder's root, segments
 * joined by `/`, with no leading or trailing `/` and never `.` or `..`, spelt
 * exactly as the host spells them (case and Unicode form kept). Adapters
 * translate them to the host's separators and must never resolve one outside
 * the root; the engine has already refused every unsafe path before it asks
 * for anything.
 */

/** A path relative to the synced folder, `/`-separated, e.g. `Daily/2026-11-25.md`. */
export type VaultPath = string;

export interface FileStat {
  readonly path: VaultPath;
  /** Bytes. */
  readonly size: number;
  /** Last modification, in milliseconds since 1970 (the host's clock). Only compared for equality. */
  readonly mtime: number;
}

/**
 * What the engine believes a path holds before it writes over it, removes it
 * or moves something onto it. The write happens only if the belief is still
 * true when the adapter does it (compare-and-swap); otherwise the adapter
 * changes nothing and reports `false`, and the engine reads the file in
 * before trying again. That is how an edit made while a sync was in flight
 * is never overwritten.
 */
export type Expected =
  /** No file at the path (a folder of that name also counts as "not absent"). */
  | { readonly kind: 'absent' }
  /** The file is text whose whole content, decoded as UTF-8, equals `text` exactly. */
  | { readonly kind: 'text'; readonly text: string }
  /** The file's bytes have this `contentHash` (from `./hash`, which adapters import). */
  | { readonly kind: 'hash'; readonly hash: string };

/**
 * A change the host saw. Hints, not facts: the engine re-reads what it needs.
 * Events may be coalesced or duplicated, may arrive for the engine's own
 * writes (it recognises those by content), and may name a folder instead of
 * the files in it (a folder deleted or moved in one step): the engine then
 * looks at every file it knows under that path. An adapter that may have
 * missed events (a watcher overflow, a restart of the watcher) emits
 * `rescan` and the engine compares the whole folder with its index.
 */
export type FileChange =
  | { readonly type: 'created' | 'modified' | 'deleted'; readonly path: VaultPath }
  /** A move the host reported as one (Obsidian does; a Node watcher reports `deleted` then `created`). */
  | { readonly type: 'renamed'; readonly path: VaultPath; readonly from: VaultPath }
  | { readonly type: 'rescan' };

export interface ListOptions {
  /** Folders for which this returns true are not descended into (the engine skips `.git`, the config folder...). */
  readonly skipFolder?: (path: VaultPath) => boolean;
}

/**
 * The synced folder. Every method that writes is atomic: a reader (another
 * program, a crash) sees the old file or the new one, never a mix or a
 * truncated file. On Node: write a temporary file in the same folder, then
 * rename it over the target. In Obsidian: `vault.process` for text (or, for
 * a note open in an editor, the same change applied as editor transactions),
 * `vault.rename`, `vault.delete`/`trash`, and `adapter` calls for staging.
 * Parent folders are created as needed. Removing or moving the last file out
 * of a folder should remove folders it leaves empty, up to but not including
 * the root (the engine does not sync empty folders). Every method rejects
 * (with a message a person can act on) only when the host fails: a full
 * disk, a permission; never for a failed expectation, which resolves false.
 */
export interface VaultFiles {
  /** Every regular file under the root, recursively. Symbolic links are neither followed nor listed. */
  list(options?: ListOptions): Promise<FileStat[]>;
  /** The file at `path`, or null if there is none (or a folder is there). */
  stat(path: VaultPath): Promise<FileStat | null>;
  /** The whole file, or null if there is none. The engine calls this only for files small enough to hold (notes). */
  read(path: VaultPath): Promise<Uint8Array | null>;
  /**
   * Up to `length` bytes from `offset` (fewer at the end of the file), or null
   * if there is no file. Large files are read this way, a chunk at a time, so
   * a 100 MB attachment is never held whole.
   */
  readRange(path: VaultPath, offset: number, length: number): Promise<Uint8Array | null>;
  /**
   * Replaces (or creates) a text file with `text`, encoded as UTF-8, if the
   * file still matches `expected`. The whole old and new texts are given so
   * an editor adapter can turn the difference into editor changes for a
   * note that is open (cursor, selection and undo history kept).
   * @returns false, changing nothing, when the file no longer matches `expected`
   */
  writeText(path: VaultPath, text: string, expected: Expected): Promise<boolean>;
  /**
   * Moves a file, if `from` still matches `expected` (when given) and nothing
   * is at `to`. Never overwrites.
   * @returns false, changing nothing, when `from` is missing or differs, or `to` is taken
   */
  rename(from: VaultPath, to: VaultPath, expected?: Expected): Promise<boolean>;
  /**
   * Deletes a file if it still matches `expected` (Obsidian: to its trash, as
   * the user configured). Deleting a missing file with `expected` absent is a
   * success.
   * @returns false, changing nothing, when the file no longer matches `expected`
   */
  remove(path: VaultPath, expected: Expected): Promise<boolean>;
  /**
   * Changes under the root while subscribed. Starts watching on subscribe,
   * stops on unsubscribe. Should not emit for paths under hidden (dot) folders
   * if the host makes that cheap; the engine ignores them anyway.
   *
   * Events the watcher merely dropped (an overflow, a restart of the host's
   * watcher) are a `rescan`, never an error. Error only when the folder can
   * no longer be watched at all (deleted, unmounted, the watcher broke for
   * good): the engine then reports the error, stops every session (peers are
   * told why) and refuses new ones, since changes made here would be missed.
   * Syncing resumes once the host opens a new engine.
   */
  watch(): Observable<FileChange>;

  /*
   * Staging: where a file arriving from another device is assembled before
   * it is moved into place. Keyed by an opaque key (the engine uses the
   * content hash). Staged bytes must survive a crash or `kill -9` (they are
   * how a transfer resumes) and must live on the same volume as the folder
   * so that committing is a rename, but never where the engine would sync
   * them: a hidden folder under the root (`.vault-peers/staging/` on Node;
   * the Obsidian adapter may use its plugin folder through `adapter`) or an
   * ignored name. A staged file the engine no longer wants is discarded by it
   * at start-up (`listStaged`).
   */

  /** Bytes staged under `key` so far (0 if none). */
  stagedLength(key: string): Promise<number>;
  /** Writes `bytes` at `offset` of the staged file, first dropping anything at or after `offset`. */
  writeStaged(key: string, offset: number, bytes: Uint8Array): Promise<void>;
  /** Up to `length` staged bytes from `offset` (the engine verifies a staged file before committing it). */
  readStaged(key: string, offset: number, length: number): Promise<Uint8Array>;
  /**
   * Atomically moves the staged file to `path` (replacing what is there) if
   * `path` still matches `expected`; the staged file is gone afterwards.
   * @returns false, changing nothing (the staged file stays), when `path` no longer matches `expected`
   */
  commitStaged(key: string, path: VaultPath, expected: Expected): Promise<boolean>;
  /** Deletes a staged file (no error if there is none). */
  discardStaged(key: string): Promise<void>;
  /** The keys of every staged file. */
  listStaged(): Promise<string[]>;
}

/* ------------------------------------------------------------------------ */

/**
 * A point in time as the engine orders changes: milliseconds since 1970 on
 * the clock of device `d` (its short id), which made the change. Compared by
 * `t`, then `d`. `d` is '' for a file enrolled before any device changed it.
 */
export interface Stamp {
  readonly t: number;
  readonly d: string;
}

/** Replica id (8 hex digits, see `StoreHeader.epoch`) to counter. Compared per entry. */
export type VersionVector = Readonly<Record<string, number>>;

/** What this device's disk holds for a file, as the engine last saw or wrote it. */
export interface DiskState {
  readonly path: VaultPath;
  /** `contentHash` of the bytes on disk; for a note, of its base text. */
  readonly hash: string;
  readonly size: number;
  readonly mtime: number;
}

/**
 * One file in this device's index, keyed by `id` (32 hex digits), which is
 * not its path: a rename changes `path` only. Plain data (strings, numbers,
 * booleans, one Uint8Array): structured-clone safe for IndexedDB; a file
 * store may use `encodeRecord`/`decodeRecord` from `./records-codec`.
 */
export interface FileRecord {
  readonly id: string;
  readonly path: VaultPath;
  /** `text`: a note, merged through its Yjs document. `blob`: whole-file versions. Fixed for a file's life. */
  readonly kind: 'text' | 'blob';
  /** A tombstone: kept so that a device that was away learns of the delete. */
  readonly deleted: boolean;
  /** `contentHash` of the content: for a blob, the version in the index; for a note, this device's document. */
  readonly hash: string;
  readonly size: number;
  /** When the content last changed (a blob's version; a note's last ingested edit). */
  readonly changed: Stamp;
  /** When the path last changed (creation counts). */
  readonly moved: Stamp;
  readonly version: VersionVector;
  /**
   * The changes that keep the file live: for each replica, the counter of its
   * last change that created, edited or moved the file (a delete leaves this
   * as it was; `{}` for a file enrolled from disk). A delete concurrent with
   * a change loses to it only if it had not seen that change: this is how
   * the rules tell a delete made after seeing the edit apart from one made
   * while it was being edited, once versions have been merged.
   */
  readonly lived: VersionVector;
  /** This device's sequence number of the record's last change (local or applied from a peer). */
  readonly seq: number;
  /** A note's Yjs state vector on this device (null for a blob). */
  readonly sv: Uint8Array | null;
  /** Where and what this file is on this device's disk, or null when it is not there (yet). */
  readonly disk: DiskState | null;
}

/** How far this device has come with one peer, kept across connections. */
export interface PeerMark {
  /** The peer's node id. */
  readonly deviceId: string;
  /** The peer's index epoch that `seen` refers to. */
  readonly epoch: string;
  /** Every change of the peer up to this sequence number is applied and stored here. */
  readonly seen: number;
  /** The highest of this device's sequence numbers the peer confirmed holding... */
  readonly acked: number;
  /** ...while this device's index had this epoch. */
  readonly ackedEpoch: string;
}

/**
 * Who a store belongs to. A store is bound to one device and one folder: the
 * engine compares `deviceId` with its own node id on every start, and a store
 * copied from another device (or another folder) is reset and rebuilt from
 * the folder, never trusted.
 */
export interface StoreHeader {
  /** The layout version of what the engine writes (the engine resets a store of another format). */
  readonly format: number;
  readonly deviceId: string;
  readonly folderId: string;
  /**
   * Random, new on every reset (16 hex digits). Peers key what they have
   * seen of this device by it, and its first 8 digits are this device's
   * replica id in version vectors, so a rebuilt index never reuses counters.
   */
  readonly epoch: string;
}

export interface StoredState {
  readonly header: StoreHeader;
  /** The highest sequence number used so far. */
  readonly seq: number;
  /** A fingerprint of the settings that decide what is synced; the engine resends indexes when it changes. */
  readonly settings: string;
  readonly records: readonly FileRecord[];
  readonly peers: readonly PeerMark[];
}

/** A note's document: the Yjs updates to apply in order, and the base text (last synced to or from disk). */
export interface StoredDoc {
  readonly updates: readonly Uint8Array[];
  readonly base: string;
}

export interface DocWrite {
  readonly id: string;
  /** Appended to the document's updates, or, with `replace`, the document's only update from now on (a compaction). */
  readonly update?: Uint8Array;
  readonly replace?: boolean;
  /** The new base text, when it changed. */
  readonly base?: string;
}

/** One atomic change to the store. */
export interface StoreBatch {
  readonly seq?: number;
  readonly settings?: string;
  /** Records written whole (inserted or replaced by id). */
  readonly records?: readonly FileRecord[];
  /** Records removed, with their documents (tombstones every peer has seen). */
  readonly forget?: readonly string[];
  readonly peers?: readonly PeerMark[];
  readonly docs?: readonly DocWrite[];
}

/**
 * The engine's state for one folder on one device: the index, per-peer
 * progress, and each note's Yjs document and base text. Never inside the
 * synced folder and never in anything copied with the vault (Obsidian:
 * IndexedDB; headless peer: its state directory).
 *
 * Contract (spec/support/sync-store-contract.ts checks it against any
 * implementation):
 * - `commit` is atomic and durable against a crash of the process: after a
 *   `kill -9` at any moment, `load` returns the state after some prefix of
 *   the resolved-or-pending commits, in order, each whole or absent. The
 *   engine relies on it: a note's own Yjs edits are sent only after they are
 *   committed.
 * - Incremental: a commit costs in proportion to its batch, not to the
 *   store (a file store appends to a log and compacts now and then; one
 *   edited note must not rewrite 10,000 records).
 * - One writer: the engine does not call `commit` again before the previous
 *   one settled. Reads may interleave with a pending commit and see it or not.
 * - A damaged store (a torn tail, a bad checksum) loads as what was committed
 *   before the damage; a store that cannot be read at all loads as null.
 */
export interface SyncStore {
  /** Everything except documents (about 300 bytes a file), or null when the store is empty. */
  load(): Promise<StoredState | null>;
  /** A note's document, or null when none was stored. */
  loadDoc(id: string): Promise<StoredDoc | null>;
  commit(batch: StoreBatch): Promise<void>;
  /** Erases everything; the store now belongs to `header`, with `seq` 0 and no records, peers or documents. */
  reset(header: StoreHeader): Promise<void>;
}
