import type { FileRecord, PeerMark, StoreBatch, StoreHeader, StoredDoc, StoredState, SyncStore } from '../../src/sync/ports';
import { encodeRecord } from '../../src/sync/records-codec';

/**
 * The sync store in memory, for specs. Commits are atomic (applied whole,
 * in order). `snapshot()` is what a `kill -9` would leave: a new store
 * holding exactly the committed state, for an engine to reopen. It counts
 * what each commit writes, so specs can show that one edit does not rewrite
 * the store.
 */

interface State {
  header: StoreHeader;
  seq: number;
  settings: string;
  records: Map<string, FileRecord>;
  peers: Map<string, PeerMark>;
  docs: Map<string, { updates: Uint8Array[]; base: string }>;
}

export class MemorySyncStore implements SyncStore {
  private state: State | null = null;
  commits = 0;
  private lastBatch: StoreBatch = {};
  /** Called after each commit (specs snapshot the store there, as a crash would leave it). */
  onCommit: (() => void) | null = null;
  /** Makes the next commit fail (as a full disk would), changing nothing. */
  failNextCommit: Error | null = null;
  /** Hold commits until released, to catch the engine between steps. */
  private gate: Promise<void> | null = null;

  load(): Promise<StoredState | null> {
    const s = this.state;
    if (!s) return Promise.resolve(null);
    return Promise.resolve({ header: s.header, seq: s.seq, settings: s.settings, records: [...s.records.values()], peers: [...s.peers.values()] });
  }

  loadDoc(id: string): Promise<StoredDoc | null> {
    const doc = this.state?.docs.get(id);
    return Promise.resolve(doc ? { updates: [...doc.updates], base: doc.base } : null);
  }

  async commit(batch: StoreBatch): Promise<void> {
    if (this.gate) await this.gate;
    const failure = this.failNextCommit;
    this.failNextCommit = null;
    if (failure) throw failure;
    const s = this.state;
    if (!s) throw new Error('commit to a store that was never reset');
    if (batch.seq !== undefined) s.seq = batch.seq;
    if (batch.settings !== undefined) s.settings = batch.settings;
    for (const record of batch.records ?? []) {
      s.records.set(record.id, record);
    }
    for (const id of batch.forget ?? []) {
      s.records.delete(id);
      s.docs.delete(id);
    }
    for (const mark of batch.peers ?? []) s.peers.set(mark.deviceId, mark);
    for (const write of batch.docs ?? []) {
      const doc = s.docs.get(write.id) ?? { updates: [], base: '' };
      if (write.update) doc.updates = write.replace ? [write.update] : [...doc.updates, write.update];
      if (write.base !== undefined) doc.base = write.base;
      s.docs.set(write.id, doc);
    }
    this.commits += 1;
    this.lastBatch = batch;
    this.onCommit?.();
  }

  /** Bytes the last commit wrote (records encoded as a file store would, updates, base texts). */
  get lastCommitBytes(): number {
    let bytes = 0;
    for (const record of this.lastBatch.records ?? []) bytes += encodeRecord(record).length;
    for (const write of this.lastBatch.docs ?? []) bytes += (write.update?.length ?? 0) + (write.base?.length ?? 0);
    return bytes;
  }

  reset(header: StoreHeader): Promise<void> {
    this.state = { header, seq: 0, settings: '', records: new Map(), peers: new Map(), docs: new Map() };
    return Promise.resolve();
  }

  /** What a crash leaves: the committed state, in a store of its own. */
  snapshot(): MemorySyncStore {
    const copy = new MemorySyncStore();
    const s = this.state;
    if (s) {
      copy.state = {
        ...s,
        records: new Map(s.records),
        peers: new Map(s.peers),
        docs: new Map([...s.docs].map(([id, doc]) => [id, { updates: [...doc.updates], base: doc.base }])),
      };
    }
    return copy;
  }

  /** Commits wait until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    this.gate = new Promise((resolve) => (release = resolve));
    return () => {
      this.gate = null;
      release();
    };
  }

  /** Replaces the header, as a store copied from another device would carry. */
  forgeHeader(header: Partial<StoreHeader>): void {
    if (this.state) this.state.header = { ...this.state.header, ...header };
  }

  get recordCount(): number {
    return this.state?.records.size ?? 0;
  }

  docOf(id: string): { updates: Uint8Array[]; base: string } | undefined {
    return this.state?.docs.get(id);
  }
}
