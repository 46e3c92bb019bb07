import * as Y from 'yjs';
import { clientIdFor } from './notes';
import type { SyncStore } from './ports';

/**
 * Notes' Yjs documents, loaded from the store when needed and evicted least
 * recently used, so a 10,000-note vault does not keep 10,000 documents in
 * memory. A document not loaded is served to peers straight from its stored
 * updates.
 */

export interface LoadedNote {
  readonly id: string;
  readonly doc: Y.Doc;
  /** The text last synced to or from disk. */
  base: string;
  /** How many updates the store holds for it (compacted into one past a limit). */
  storedUpdates: number;
}

/** Past this many stored updates, the next write replaces them with one. */
export const COMPACT_AFTER = 64;

export class NoteCache {
  private readonly loaded = new Map<string, LoadedNote>();

  constructor(
    private readonly store: SyncStore,
    private readonly replica: string,
    private readonly capacity: number,
  ) {}

  /** The note's document: from memory, from the store, or new and empty. */
  async open(id: string): Promise<LoadedNote> {
    const cached = this.loaded.get(id);
    if (cached) {
      this.loaded.delete(id);
      this.loaded.set(id, cached);
      return cached;
    }
    const stored = await this.store.loadDoc(id);
    const again = this.loaded.get(id);
    if (again) return again;
    const doc = new Y.Doc({ guid: id });
    for (const update of stored?.updates ?? []) Y.applyUpdate(doc, update);
    doc.clientID = clientIdFor(this.replica, id);
    const note: LoadedNote = { id, doc, base: stored?.base ?? '', storedUpdates: stored?.updates.length ?? 0 };
    this.loaded.set(id, note);
    return note;
  }

  /** A new document for a note enrolled from `update`. */
  create(id: string, update: Uint8Array, base: string): LoadedNote {
    this.drop(id);
    const doc = new Y.Doc({ guid: id });
    Y.applyUpdate(doc, update);
    doc.clientID = clientIdFor(this.replica, id);
    const note: LoadedNote = { id, doc, base, storedUpdates: 0 };
    this.loaded.set(id, note);
    return note;
  }

  /** Forgets a loaded document (it is reloaded from the store next time). */
  drop(id: string): void {
    const note = this.loaded.get(id);
    if (!note) return;
    note.doc.destroy();
    this.loaded.delete(id);
  }

  /** What a peer at state vector `sv` lacks of the note, without loading it if it is not loaded. */
  async missingFor(id: string, sv: Uint8Array): Promise<Uint8Array | null> {
    const note = this.loaded.get(id);
    if (note) return Y.encodeStateAsUpdate(note.doc, sv);
    const stored = await this.store.loadDoc(id);
    if (!stored || stored.updates.length === 0) return null;
    const merged = stored.updates.length === 1 ? stored.updates[0]! : Y.mergeUpdates([...stored.updates]);
    return Y.diffUpdate(merged, sv);
  }

  get size(): number {
    return this.loaded.size;
  }

  clear(): void {
    for (const id of [...this.loaded.keys()]) this.drop(id);
  }

  /**
   * Evicts the least recently used documents beyond the capacity. Called
   * between tasks, never during one, so a document a task holds is never
   * evicted under it (and reloaded without that task's uncommitted changes).
   */
  trim(): void {
    while (this.loaded.size > this.capacity) {
      const oldest = this.loaded.keys().next().value as string;
      this.drop(oldest);
    }
  }
}
