import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, readdir, realpath, rename, unlink, type FileHandle } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { StorageError } from '../core/errors';
import type { DocWrite, StoreBatch, StoreHeader, StoredDoc, StoredState, SyncStore } from '../sync/ports';
import { errnoOf, explainHostError } from './vault-folder-errors';
import { MAGIC, crc32, encodeFrame, readFrames, recordToJson, type BatchFrame, type DocEntry, type Segment } from './sync-store-format';
import { copyDocs, createAndSync, readSegments, sizeOrCreate, syncDir, writeAtAndSync } from './sync-store-io';
import { StoreMemory, recordShare } from './sync-store-state';

export interface FileSyncStoreOptions {
  /** The synced folder: the store refuses to live inside it (a copy of the vault must never carry it). */
  readonly syncedFolder?: string;
  /** Compaction waits until the index or the docs file is at least this big (bytes). Specs lower it. */
  readonly compactMinBytes?: number;
  /**
   * The index is rewritten once it is this many times the size of a fresh
   * snapshot (default 4), the docs file once it is this many times its live
   * bytes (at least 2). Specs lower it to compact at almost every commit.
   */
  readonly slack?: number;
}

const DEFAULT_COMPACT_MIN = 4 * 1024 * 1024;

const INDEX = 'index.log';
const docsName = (gen: string) => `docs-${gen}.log`;

/**
 * The `SyncStore` port as files in a directory of the headless peer's state
 * directory (see `sync-store-format.ts` for the bytes):
 *
 * - A commit appends its documents' bytes to the docs file (fdatasync), then
 *   one checksummed frame to the index (fdatasync): a kill at any moment
 *   leaves either the whole frame or a torn tail, which the next load cuts.
 *   Documents written before a torn frame are unreferenced bytes until the
 *   next compaction.
 * - Records and peer marks are held in memory (the engine holds the index
 *   anyway, and the objects are shared with it: they are read-only); each
 *   document is a list of segments of the docs file, read by `loadDoc`.
 * - Compaction, after a commit that made the index `slack` (4) times a
 *   snapshot's size (or the docs file twice its live bytes),
 *   writes a new docs generation (when needed) and a snapshot to a
 *   temporary file, renamed over the index; files of other generations are
 *   removed at load.
 * - One writer: commits and resets run one after another here even if the
 *   caller does not wait. Two processes must not open one store.
 */
export class FileSyncStore implements SyncStore {
  readonly dir: string;
  private readonly compactMin: number;
  private readonly indexSlack: number;
  private readonly docsSlack: number;
  private loaded: Promise<void> | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  private readonly memory = new StoreMemory();
  private indexEnd = 0;
  private docsEnd = 0;
  /** No compaction is tried before the index reaches this size (raised after a failed one). */
  private compactAfter = 0;

  constructor(
    dir: string,
    private readonly options: FileSyncStoreOptions = {},
  ) {
    this.dir = resolve(dir);
    this.compactMin = options.compactMinBytes ?? DEFAULT_COMPACT_MIN;
    this.indexSlack = options.slack ?? 4;
    this.docsSlack = Math.min(this.indexSlack, 2);
  }

  async load(): Promise<StoredState | null> {
    await this.ensureLoaded();
    return this.memory.state();
  }

  async loadDoc(id: string): Promise<StoredDoc | null> {
    await this.ensureLoaded();
    for (let attempt = 0; ; attempt += 1) {
      const entry = this.memory.docs.get(id);
      if (!entry) return null;
      const gen = this.memory.gen;
      const segments = [...entry.updates, ...(entry.base ? [entry.base] : [])];
      let bytes: Array<Uint8Array | null>;
      try {
        bytes = await readSegments(join(this.dir, docsName(gen)), segments);
      } catch (error) {
        // A compaction moved the documents to a new file while we read: read them there.
        if (errnoOf(error) === 'ENOENT' && gen !== this.memory.gen && attempt < 3) continue;
        throw this.failure(error, 'read');
      }
      if (bytes.some((part) => part === null)) {
        throw new StorageError(
          `The saved history of a note (${id}) in ${this.dir} is damaged. Vault Peers rebuilds it from the note on disk and from your other devices; if this repeats, check the disk.`,
        );
      }
      const parts = bytes as Uint8Array[];
      return { updates: parts.slice(0, entry.updates.length), base: entry.base ? Buffer.from(parts[parts.length - 1]!).toString('utf8') : '' };
    }
  }

  commit(batch: StoreBatch): Promise<void> {
    return this.serially(async () => {
      await this.ensureLoaded(true);
      if (!this.memory.header) throw new StorageError(`The sync state in ${this.dir} is empty: it must be reset (bound to this device) before anything is saved.`);
      await this.append(batch);
      // The batch is saved: a compaction that fails (a full disk) is tried again later, and does not fail the commit.
      if (this.indexEnd >= this.compactAfter) await this.compactIfDue().catch(() => (this.compactAfter = this.indexEnd + this.compactMin));
    });
  }

  reset(header: StoreHeader): Promise<void> {
    return this.serially(async () => {
      await this.checkPlace();
      try {
        await mkdir(this.dir, { recursive: true, mode: 0o700 });
      } catch (error) {
        throw this.failure(error, 'create');
      }
      this.loaded = Promise.resolve();
      this.clear();
      this.memory.header = header;
      await this.writeSnapshot(randomBytes(4).toString('hex'), new Map());
      this.docsEnd = 0;
      this.compactAfter = 0;
    });
  }

  /* ---- loading ---- */

  /** Reads the store once; `inQueue` when called by queued work (which must not wait for itself). */
  private ensureLoaded(inQueue = false): Promise<void> {
    this.loaded ??= (inQueue ? this.readFromDisk() : this.serially(() => this.readFromDisk())).catch((error: unknown) => {
      this.loaded = null; // a later call tries again (the disk may be back)
      throw error;
    });
    return this.loaded;
  }

  private async readFromDisk(): Promise<void> {
    await this.checkPlace();
    this.clear();
    let handle: FileHandle;
    try {
      handle = await open(join(this.dir, INDEX), 'r+');
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return;
      throw this.failure(error, 'read');
    }
    try {
      const size = (await handle.stat()).size;
      const magic = Buffer.alloc(MAGIC.length);
      await handle.read(magic, 0, magic.length, 0);
      if (size < MAGIC.length || !magic.equals(MAGIC)) return await this.setAside();
      const { end, stop } = await readFrames(handle, MAGIC.length, size, (frame, bytes) => this.memory.applyFrame(frame, bytes));
      if (!this.memory.header) return await this.setAside();
      // Damage (not a torn tail): what follows it is cut, so keep a copy for whoever wants to look.
      if (stop === 'damaged') await copyFile(join(this.dir, INDEX), join(this.dir, `${INDEX}.damaged-${stamp()}`));
      if (end < size) {
        await handle.truncate(end);
        await handle.sync();
      }
      this.indexEnd = end;
    } finally {
      await handle.close();
    }
    this.docsEnd = await sizeOrCreate(join(this.dir, docsName(this.memory.gen))).catch((error: unknown) => {
      throw this.failure(error, 'read');
    });
    await this.removeStrays();
  }

  /**
   * An index that is not ours, of a newer format, or whose first entry is
   * damaged: kept beside as `index.log.damaged-<time>`, and the store loads
   * as empty (the engine then resets it and rebuilds from the folder).
   */
  private async setAside(): Promise<void> {
    this.clear();
    await copyFile(join(this.dir, INDEX), join(this.dir, `${INDEX}.damaged-${stamp()}`));
  }

  private clear(): void {
    this.memory.clear();
    this.indexEnd = 0;
    this.docsEnd = 0;
  }

  /* ---- writing ---- */

  private async append(batch: StoreBatch): Promise<void> {
    const bytes: Buffer[] = [];
    let at = this.docsEnd;
    const place = (data: Uint8Array): Segment => {
      const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      bytes.push(buffer);
      const segment: Segment = [at, buffer.length, crc32(buffer)];
      at += buffer.length;
      return segment;
    };
    const docs = (batch.docs ?? []).map((doc: DocWrite) => {
      const update = doc.update ? place(doc.update) : null;
      const base = doc.base !== undefined ? place(Buffer.from(doc.base, 'utf8')) : null;
      return [doc.id, doc.replace ? 1 : 0, update, base] as const;
    });
    const records = (batch.records ?? []).map((record) => recordToJson(record));
    const frame: BatchFrame = {
      t: 'batch',
      ...(batch.seq !== undefined ? { seq: batch.seq } : {}),
      ...(batch.settings !== undefined ? { settings: batch.settings } : {}),
      ...(records.length ? { records } : {}),
      ...(batch.forget?.length ? { forget: batch.forget } : {}),
      ...(batch.peers?.length ? { peers: batch.peers } : {}),
      ...(docs.length ? { docs } : {}),
    };
    const encoded = encodeFrame(frame);
    // The documents first: a frame is never on disk before the bytes it points to.
    try {
      if (bytes.length) await writeAtAndSync(join(this.dir, docsName(this.memory.gen)), this.docsEnd, bytes);
      await writeAtAndSync(join(this.dir, INDEX), this.indexEnd, [encoded]);
    } catch (error) {
      throw this.failure(error, 'save');
    }
    this.indexEnd += encoded.length;
    this.docsEnd = at;
    this.memory.applyBatch(frame, batch.records ?? [], recordShare(encoded.length, records.length));
  }

  private async compactIfDue(): Promise<void> {
    const docsDue = this.docsEnd > this.compactMin && this.docsEnd > this.docsSlack * this.memory.liveDocBytes;
    const indexDue = this.indexEnd > this.compactMin && this.indexEnd > this.indexSlack * this.memory.snapshotBytes();
    if (!docsDue && !indexDue) return;
    if (!docsDue) return this.writeSnapshot(this.memory.gen, this.memory.docs);
    const gen = randomBytes(4).toString('hex');
    const to = join(this.dir, docsName(gen));
    const moved = await copyDocs(join(this.dir, docsName(this.memory.gen)), to, this.memory.docs).catch(async (error: unknown) => {
      await unlink(to).catch(() => undefined);
      throw error;
    });
    await this.writeSnapshot(gen, moved.docs);
    this.docsEnd = moved.end;
  }

  /**
   * Replaces the index with one snapshot frame of the state in memory (with
   * `docs` pointing into docs file `gen`): written to a temporary file,
   * fdatasynced, renamed over the index, and the directory fsynced. Then
   * removes docs files of other generations.
   */
  private async writeSnapshot(gen: string, docs: ReadonlyMap<string, DocEntry>): Promise<void> {
    const encoded = encodeFrame(this.memory.snapshot(gen, docs));
    const temp = join(this.dir, `${INDEX}.tmp-${randomBytes(4).toString('hex')}`);
    try {
      if (gen !== this.memory.gen) await sizeOrCreate(join(this.dir, docsName(gen)));
      await createAndSync(temp, [MAGIC, encoded]);
      await rename(temp, join(this.dir, INDEX));
      await syncDir(this.dir);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw this.failure(error, 'save');
    }
    this.memory.moveDocs(gen, docs);
    this.indexEnd = MAGIC.length + encoded.length;
    await this.removeStrays();
  }

  /** Docs files of other generations and temporary files of a compaction that was killed. */
  private async removeStrays(): Promise<void> {
    const names = await readdir(this.dir).catch(() => []);
    for (const name of names) {
      if ((name.startsWith('docs-') && name.endsWith('.log') && name !== docsName(this.memory.gen)) || name.startsWith(`${INDEX}.tmp-`)) {
        await unlink(join(this.dir, name)).catch(() => undefined);
      }
    }
  }

  /* ---- helpers ---- */

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Refuses a store inside the synced folder: it would be synced, or copied with the vault to another device. */
  private async checkPlace(): Promise<void> {
    if (!this.options.syncedFolder) return;
    const real = async (path: string) => realpath(path).catch(() => resolve(path));
    const inside = relative(await real(this.options.syncedFolder), await real(this.dir));
    if (!inside.startsWith('..') && !isAbsolute(inside)) {
      throw new StorageError(`The sync state directory ${this.dir} is inside the synced folder ${this.options.syncedFolder}. Choose a state directory (--dir) outside it.`);
    }
  }

  private failure(error: unknown, what: string): Error {
    if (error instanceof StorageError || (error instanceof Error && errnoOf(error) === undefined)) return error;
    return new StorageError(explainHostError(error, `Could not ${what} the sync state in ${this.dir}`));
  }
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
}

