import { MAX_STREAM_FRAME_BYTES, type FrameStream } from '../core/ports';
import type { Entry } from './records-codec';
import { MAX_WANTS_PER_MESSAGE, encodeMessage, type DocUpdate, type SyncMessage } from './wire';

/**
 * Everything a session sends goes through one writer loop, in priority
 * order: control messages (hello, wants, acks), live changes, note content a
 * peer asked for, then the catch-up index. Readers only enqueue: if both
 * sides' readers waited on their own writes while the other's window was
 * full, neither would read again. The big producers (catch-up, served notes)
 * are pulled one frame at a time, so nothing piles up in memory while the
 * peer is slow: the awaited `write` holds them back.
 */

/** Entries per catch-up frame (about 100 bytes each before compression); the receiver takes twice this at most. */
export const ENTRIES_PER_FRAME = 500;
/** Note updates per frame; the receiver takes 2,000 at most. */
const DOCS_PER_FRAME = 500;
/** Note content per frame before a frame is cut (a single larger update goes in parts). */
const DOC_BYTES_PER_FRAME = 256 * 1024;
const PART_BYTES = 512 * 1024;
/** What a frame's payload may hold before compression, well under the transport's 1 MiB. */
export const FRAME_BUDGET = 640 * 1024;

/** Pulls the next message of a long answer, or null when it is done. */
export type Producer = () => Promise<SyncMessage | null>;

export class Outbox {
  private readonly control: SyncMessage[] = [];
  private readonly live: SyncMessage[] = [];
  private readonly producers: Producer[] = [];
  private readonly background: Producer[] = [];
  private wake: (() => void) | null = null;
  /** A served note's parts are on their way: the rest of them go before live frames, which may hold parts too (see `next`). */
  private inParts = false;
  private stopped = false;
  private signalled = false;
  /** Bytes written so far. */
  sent = 0;

  constructor(private readonly stream: FrameStream) {}

  send(message: SyncMessage): void {
    this.control.push(message);
    this.signal();
  }

  sendLive(entries: readonly Entry[], docs: readonly DocUpdate[]): void {
    for (const message of changeFrames(entries, docs)) this.live.push(message);
    this.signal();
  }

  /** Asks for note content, in as many WANT_DOCS as it takes. */
  askFor(wants: readonly { readonly id: string; readonly sv: Uint8Array }[]): void {
    for (const batch of inBatches(wants, MAX_WANTS_PER_MESSAGE, (w) => 24 + w.sv.length)) this.send({ type: 'want-docs', wants: batch });
  }

  /** A control message that must stay in order with live changes. */
  sendLiveMessage(message: SyncMessage): void {
    this.live.push(message);
    this.signal();
  }

  /** Answers (note content a peer asked for): before the catch-up, after control and live. */
  answer(producer: Producer): void {
    this.producers.push(producer);
    this.signal();
  }

  /** The catch-up index: sent when nothing else waits. */
  later(producer: Producer): void {
    this.background.push(producer);
    this.signal();
  }

  /** Writes until stopped or the stream fails (the error is the session's). */
  async run(): Promise<void> {
    while (!this.stopped) {
      this.signalled = false;
      const message = await this.next();
      if (!message) {
        if (this.stopped) return;
        // Something may have been queued while `next` awaited a producer: look again before sleeping.
        if (!this.signalled) await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      const frame = encodeMessage(message);
      assertFits(frame);
      this.sent += frame.length;
      await this.stream.write(frame);
    }
  }

  describe(): string {
    return `c${this.control.length} l${this.live.length} p${this.producers.length} b${this.background.length} ${this.wake ? 'idle' : 'busy'}`;
  }

  stop(): void {
    this.stopped = true;
    this.signal();
  }

  /**
   * The next frame to write. A note's DOC_PARTs are never interleaved with
   * another note's (the receiver assembles one at a time): live parts are
   * queued together, and once a served note's parts started, they finish
   * before live frames go again (control frames carry no parts).
   */
  private async next(): Promise<SyncMessage | null> {
    const urgent = this.control.shift() ?? (this.inParts ? undefined : this.live.shift());
    if (urgent) return urgent;
    for (const queue of [this.producers, this.background]) {
      while (queue.length > 0) {
        const message = await queue[0]!();
        this.inParts = message?.type === 'doc-part' && message.offset + message.bytes.length < message.total;
        if (message) return message;
        queue.shift();
      }
    }
    return null;
  }

  private signal(): void {
    this.signalled = true;
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

/** Entries and pushed updates as CHANGES frames under the frame limit (updates too large for one frame become DOC_PARTs). */
export function changeFrames(entries: readonly Entry[], docs: readonly DocUpdate[]): SyncMessage[] {
  const frames: SyncMessage[] = [];
  for (const batch of inBatches(entries, ENTRIES_PER_FRAME, entryBytes)) frames.push({ type: 'changes', entries: batch, docs: [] });
  const small: DocUpdate[] = [];
  let bytes = 0;
  for (const doc of docs) {
    if (doc.update.length > PART_BYTES) {
      frames.push(...docParts(doc));
      continue;
    }
    if ((bytes + doc.update.length > DOC_BYTES_PER_FRAME || small.length >= DOCS_PER_FRAME) && small.length > 0) {
      frames.push({ type: 'docs', docs: small.splice(0) });
      bytes = 0;
    }
    small.push(doc);
    bytes += doc.update.length;
  }
  if (small.length > 0) {
    // One small live edit travels in one frame: its entry and its update together.
    const last = frames[frames.length - 1];
    if (last?.type === 'changes' && last.docs.length === 0 && bytes < DOC_BYTES_PER_FRAME) frames[frames.length - 1] = { ...last, docs: small };
    else frames.push({ type: 'docs', docs: small });
  }
  return frames;
}

/** An entry's encoded size, over-estimated (records-codec.ts): each version and lived entry is a replica id and a counter. */
function entryBytes(entry: Entry): number {
  return 128 + entry.path.length * 3 + (entry.sv?.length ?? 0) + 20 * (Object.keys(entry.version).length + Object.keys(entry.lived).length);
}

/** Cuts items into batches of at most `count` items and FRAME_BUDGET estimated bytes. */
export function inBatches<T>(items: readonly T[], count: number, size: (item: T) => number): T[][] {
  const batches: T[][] = [];
  let batch: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const itemBytes = size(item);
    if (batch.length > 0 && (batch.length >= count || bytes + itemBytes > FRAME_BUDGET)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(item);
    bytes += itemBytes;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** A note update too large for one frame, in parts the receiver reassembles. */
export function docParts(doc: DocUpdate): SyncMessage[] {
  const parts: SyncMessage[] = [];
  for (let offset = 0; offset < doc.update.length; offset += PART_BYTES) {
    parts.push({ type: 'doc-part', id: doc.id, total: doc.update.length, offset, bytes: doc.update.subarray(offset, offset + PART_BYTES) });
  }
  return parts;
}

/** Keeps `frame` honest: the transport refuses frames over its limit, so a bug here should say so plainly. */
function assertFits(frame: Uint8Array): void {
  if (frame.length > MAX_STREAM_FRAME_BYTES) throw new Error(`internal: a ${frame.length}-byte frame is over the stream limit`);
}
