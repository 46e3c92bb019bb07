import { foldersOf, pathKey } from './paths';
import type { FileRecord } from './ports';

/**
 * This device's index in memory: every record by id, plus the lookups the
 * engine needs on each change (by path, by disk path, by content, by
 * sequence number). Records are immutable values; `put` replaces one.
 */
export class FolderIndex {
  private readonly records = new Map<string, FileRecord>();
  /** Live records by path key (more than one only while a collision is being resolved). */
  private readonly live = new Map<string, Set<string>>();
  /** For each folder (path key) holding live records, how many. */
  private readonly folders = new Map<string, number>();
  private readonly onDisk = new Map<string, string>();
  private readonly byHash = new Map<string, Set<string>>();

  constructor(records: readonly FileRecord[] = []) {
    for (const record of records) this.put(record);
  }

  get size(): number {
    return this.records.size;
  }

  get(id: string): FileRecord | undefined {
    return this.records.get(id);
  }

  values(): IterableIterator<FileRecord> {
    return this.records.values();
  }

  put(record: FileRecord): void {
    const old = this.records.get(record.id);
    if (old) this.unlink(old);
    this.records.set(record.id, record);
    this.link(record);
  }

  remove(id: string): void {
    const old = this.records.get(id);
    if (!old) return;
    this.unlink(old);
    this.records.delete(id);
  }

  /** The record whose file is at `path` on this device's disk. */
  atDisk(path: string): FileRecord | undefined {
    const id = this.onDisk.get(pathKey(path));
    return id === undefined ? undefined : this.records.get(id);
  }

  /** Records whose file on this device's disk is under folder `path`. */
  underDisk(path: string): FileRecord[] {
    const prefix = `${pathKey(path)}/`;
    const found: FileRecord[] = [];
    for (const [key, id] of this.onDisk) if (key.startsWith(prefix)) found.push(this.records.get(id)!);
    return found;
  }

  /** Live records at a path (ignoring case and Unicode form). */
  liveAt(path: string): FileRecord[] {
    return [...(this.live.get(pathKey(path)) ?? [])].map((id) => this.records.get(id)!);
  }

  /**
   * Live records that cannot coexist with `record` on one disk: another at
   * the same path, a file where `record` needs a folder, or files under a
   * folder where `record` is a file.
   */
  collisionsOf(record: FileRecord): FileRecord[] {
    if (record.deleted) return [];
    const found = this.liveAt(record.path).filter((other) => other.id !== record.id);
    for (const folder of foldersOf(record.path)) found.push(...this.liveAt(folder));
    if ((this.folders.get(pathKey(record.path)) ?? 0) > 0) {
      const prefix = `${pathKey(record.path)}/`;
      for (const [key, ids] of this.live) if (key.startsWith(prefix)) for (const id of ids) found.push(this.records.get(id)!);
    }
    return found;
  }

  /** Records whose file on this device's disk has this content. */
  withDiskHash(hash: string): FileRecord[] {
    return [...(this.byHash.get(hash) ?? [])].map((id) => this.records.get(id)!);
  }

  /** Records changed after sequence number `seq`, oldest change first. */
  changedSince(seq: number): FileRecord[] {
    return [...this.records.values()].filter((r) => r.seq > seq).sort((a, b) => a.seq - b.seq);
  }

  private link(record: FileRecord): void {
    if (!record.deleted) {
      addTo(this.live, pathKey(record.path), record.id);
      for (const folder of foldersOf(record.path)) {
        const key = pathKey(folder);
        this.folders.set(key, (this.folders.get(key) ?? 0) + 1);
      }
    }
    if (record.disk) {
      this.onDisk.set(pathKey(record.disk.path), record.id);
      addTo(this.byHash, record.disk.hash, record.id);
    }
  }

  private unlink(record: FileRecord): void {
    if (!record.deleted) {
      removeFrom(this.live, pathKey(record.path), record.id);
      for (const folder of foldersOf(record.path)) {
        const key = pathKey(folder);
        const count = (this.folders.get(key) ?? 1) - 1;
        if (count > 0) this.folders.set(key, count);
        else this.folders.delete(key);
      }
    }
    if (record.disk) {
      if (this.onDisk.get(pathKey(record.disk.path)) === record.id) this.onDisk.delete(pathKey(record.disk.path));
      removeFrom(this.byHash, record.disk.hash, record.id);
    }
  }
}

function addTo(map: Map<string, Set<string>>, key: string, id: string): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(id);
}

function removeFrom(map: Map<string, Set<string>>, key: string, id: string): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) map.delete(key);
}
