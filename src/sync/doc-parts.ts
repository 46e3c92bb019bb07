import { MAX_NOTE_BYTES } from './disk';
import { REFUSED_TOO_BIG, REFUSED_UNEXPECTED } from './messages';
import { SyncRefusal } from './refusal';

/**
 * The largest note update accepted in parts. Larger than a note's text can be
 * (MAX_NOTE_BYTES): an update also holds the structure of the note's edit
 * history, so an honest device's update for a long-edited note can be bigger
 * than its text. One assembly at a time, so this is also the most one peer
 * can make this device hold for it.
 */
export const MAX_UPDATE_BYTES = MAX_NOTE_BYTES * 4;

/**
 * A note update too large for one frame, put back together from its
 * DOC_PARTs. Parts are taken only in order, for a note this device is
 * waiting for, one note at a time (the sender never interleaves two notes'
 * parts, see outbox.ts), and memory grows only with the bytes that actually
 * came: a peer that claims a huge total, or sends parts nobody asked for,
 * holds nothing here.
 */
export class PartAssembly {
  private current: { id: string; total: number; got: number; chunks: Uint8Array[] } | null = null;

  /** Bytes held for the update being assembled. */
  get holding(): number {
    return this.current?.got ?? 0;
  }

  /**
   * Takes one part. Returns the whole update when this was its last part.
   * @param waitingFor whether this device is waiting for a note's content; parts of a note it is not (another
   *   device brought the content first) are dropped
   * @throws SyncRefusal for a part over the limit, out of order, or of a second note while one is being assembled
   */
  take(id: string, total: number, offset: number, bytes: Uint8Array, waitingFor: (id: string) => boolean): Uint8Array | null {
    if (total > MAX_UPDATE_BYTES || offset + bytes.length > total) throw new SyncRefusal(REFUSED_TOO_BIG);
    let current = this.current;
    if (current && current.id !== id) throw new SyncRefusal(REFUSED_UNEXPECTED('parts of two note updates at once'));
    if (!current) {
      if (!waitingFor(id)) return null;
      if (offset !== 0) throw new SyncRefusal(REFUSED_UNEXPECTED('a part of a note update'));
      this.current = current = { id, total, got: 0, chunks: [] };
    }
    if (total !== current.total || offset !== current.got || bytes.length === 0) throw new SyncRefusal(REFUSED_UNEXPECTED('a part of a note update'));
    current.chunks.push(bytes);
    current.got += bytes.length;
    if (current.got < total) return null;
    this.current = null;
    const update = new Uint8Array(total);
    let at = 0;
    for (const chunk of current.chunks) {
      update.set(chunk, at);
      at += chunk.length;
    }
    return update;
  }
}
