import type { Folder } from './folder';
import { REFUSED_TOO_MANY_WANTS } from './messages';
import { changeFrames, type Producer } from './outbox';
import { SyncRefusal } from './refusal';
import { serveDocs, type DocWant } from './remote';
import { MAX_WANTS_PER_MESSAGE, type SyncMessage } from './wire';

/** Notes answered per DOCS frame batch (each read from the store if not loaded). */
const BATCH = 64;

/**
 * A peer's WANT_DOCS → the answers, a frame at a time. Only notes in the
 * index are answered (an honest peer asks only for notes it heard of from
 * this device), and the asks waiting for an answer are bounded by what the
 * index could justify: a peer asking for more is refused, so a few small
 * frames cannot queue megabytes of answers.
 */
export class DocAnswers {
  /** Notes asked for and not answered yet. */
  private queued = 0;

  constructor(private readonly folder: Folder) {}

  /**
   * The answer to one WANT_DOCS, for the outbox to pull. Every asked note gets
   * an answer (empty if there is nothing to send), so the asker can tell it is done.
   * @throws SyncRefusal when the peer's unanswered asks outgrow the index
   */
  accept(asked: readonly DocWant[]): Producer {
    const wants = asked.filter((want) => this.folder.index.get(want.id)?.kind === 'text');
    this.queued += wants.length;
    if (this.queued > this.folder.index.size + MAX_WANTS_PER_MESSAGE) throw new SyncRefusal(REFUSED_TOO_MANY_WANTS);
    let at = 0;
    let pending: SyncMessage[] = [];
    const next: Producer = async () => {
      if (pending.length > 0) return pending.shift()!;
      if (at >= wants.length) return null;
      const batch = wants.slice(at, at + BATCH);
      at += batch.length;
      this.queued -= batch.length;
      const found = await serveDocs(this.folder, batch);
      const answered = new Set(found.map((d) => d.id));
      const docs = [...found, ...batch.filter((w) => !answered.has(w.id)).map((w) => ({ id: w.id, update: new Uint8Array([0, 0]) }))];
      pending = changeFrames([], docs);
      return next();
    };
    return next;
  }
}
