import type { FileRecord, PeerMark, StoreHeader, StoredState } from '../sync/ports';
import { recordFromJson, recordToJson, type BatchFrame, type DocEntry, type Frame, type Segment, type SnapshotFrame } from './sync-store-format';

/**
 * What `FileSyncStore` holds in memory: the state the log folds to, minus
 * the documents' bytes (each document is segments of the docs file), with
 * the sizes compaction decides by. Pure: no I/O.
 */
export class StoreMemory {
  header: StoreHeader | null = null;
  /** Generation of the docs file the segments point into. */
  gen = '';
  seq = 0;
  settings = '';
  /** Shared with the engine (read-only objects): no copy of the index is made here. */
  readonly records = new Map<string, FileRecord>();
  private readonly recordBytes = new Map<string, number>();
  private liveRecordBytes = 0;
  readonly peers = new Map<string, PeerMark>();
  readonly docs = new Map<string, DocEntry>();
  /** Bytes of the docs file that live documents use. */
  liveDocBytes = 0;

  state(): StoredState | null {
    if (!this.header) return null;
    return { header: this.header, seq: this.seq, settings: this.settings, records: [...this.records.values()], peers: [...this.peers.values()] };
  }

  /** About the size of a snapshot of this state, in bytes. */
  snapshotBytes(): number {
    return this.liveRecordBytes + this.docs.size * 80 + 1024;
  }

  /** Applies one frame read from the log (`bytes` long); false when it cannot apply there (the log ends before it). */
  applyFrame(frame: Frame, bytes: number): boolean {
    const each = recordShare(bytes, frame.records?.length ?? 0);
    if (frame.t === 'snapshot') {
      if (this.header) return false; // a snapshot is only ever first
      this.header = frame.header;
      this.gen = frame.gen;
      this.seq = frame.seq;
      this.settings = frame.settings;
      for (const json of frame.records) this.putRecord(recordFromJson(json), each);
      for (const peer of frame.peers) this.peers.set(peer.deviceId, peer);
      for (const [id, updates, base] of frame.docs) this.putDoc(id, true, updates, base, false);
      return true;
    }
    if (frame.t !== 'batch' || !this.header) return false;
    this.applyBatch(
      frame,
      (frame.records ?? []).map(recordFromJson),
      each,
    );
    return true;
  }

  /** Applies a batch; `records` are its records as objects, each about `recordBytes` in a snapshot. */
  applyBatch(frame: BatchFrame, records: readonly FileRecord[], recordBytes: number): void {
    if (frame.seq !== undefined) this.seq = frame.seq;
    if (frame.settings !== undefined) this.settings = frame.settings;
    for (const record of records) this.putRecord(record, recordBytes);
    for (const peer of frame.peers ?? []) this.peers.set(peer.deviceId, peer);
    // `replace` concerns the update it comes with: without one, the updates stay (as the port's reference store does).
    for (const [id, replace, update, base] of frame.docs ?? []) this.putDoc(id, replace === 1 && update !== null, update ? [update] : [], base, true);
    // Forgotten last: a record forgotten in a batch is gone with its document, whatever else the batch said of it.
    for (const id of frame.forget ?? []) {
      this.liveRecordBytes -= this.recordBytes.get(id) ?? 0;
      this.records.delete(id);
      this.recordBytes.delete(id);
      this.dropDoc(id);
    }
  }

  /** The snapshot frame of this state, its documents at `docs` in docs file `gen`. */
  snapshot(gen: string, docs: ReadonlyMap<string, DocEntry>): SnapshotFrame {
    return {
      t: 'snapshot',
      header: this.header!,
      gen,
      seq: this.seq,
      settings: this.settings,
      records: [...this.records.values()].map(recordToJson),
      peers: [...this.peers.values()],
      docs: [...docs].map(([id, entry]) => [id, entry.updates, entry.base] as const),
    };
  }

  /** After a compaction: the documents now live at `docs` in docs file `gen`. */
  moveDocs(gen: string, docs: ReadonlyMap<string, DocEntry>): void {
    if (docs !== this.docs) {
      this.docs.clear();
      for (const [id, entry] of docs) this.docs.set(id, entry);
    }
    this.gen = gen;
  }

  clear(): void {
    this.header = null;
    this.gen = '';
    this.seq = 0;
    this.settings = '';
    this.records.clear();
    this.recordBytes.clear();
    this.liveRecordBytes = 0;
    this.peers.clear();
    this.docs.clear();
    this.liveDocBytes = 0;
  }

  private putRecord(record: FileRecord, bytes: number): void {
    this.liveRecordBytes += bytes - (this.recordBytes.get(record.id) ?? 0);
    this.records.set(record.id, record);
    this.recordBytes.set(record.id, bytes);
  }

  /** `replace`: the updates become `updates`, else they are appended. `keepBase`: a null base leaves the old one. */
  private putDoc(id: string, replace: boolean, updates: readonly Segment[], base: Segment | null, keepBase: boolean): void {
    let entry = this.docs.get(id);
    if (!entry) {
      entry = { updates: [], base: null };
      this.docs.set(id, entry);
    }
    if (replace) {
      for (const segment of entry.updates) this.liveDocBytes -= segment[1];
      entry.updates = [];
    }
    for (const segment of updates) {
      entry.updates.push(segment);
      this.liveDocBytes += segment[1];
    }
    if (base || !keepBase) {
      this.liveDocBytes += (base?.[1] ?? 0) - (entry.base?.[1] ?? 0);
      entry.base = base;
    }
  }

  private dropDoc(id: string): void {
    const entry = this.docs.get(id);
    if (!entry) return;
    for (const segment of entry.updates) this.liveDocBytes -= segment[1];
    this.liveDocBytes -= entry.base?.[1] ?? 0;
    this.docs.delete(id);
  }
}

/**
 * About how many bytes each record of a frame takes: the frame's share per
 * record (documents' pointers included, a slight overestimate). Exact sizes
 * would cost a JSON.stringify per record on every load, for a figure only
 * compaction's threshold uses.
 */
export function recordShare(frameBytes: number, records: number): number {
  return records === 0 ? 0 : Math.ceil(frameBytes / records);
}
