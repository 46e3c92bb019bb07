import { Inflate, deflateSync } from 'fflate';
// eslint-disable-next-line import/no-extraneous-dependencies -- lib0 is Yjs's own encoding, installed with yjs at the version it needs
import * as decoding from 'lib0/decoding';
// eslint-disable-next-line import/no-extraneous-dependencies -- as above
import * as encoding from 'lib0/encoding';
import { toHex } from '../core/bytes';
import { idBytes, readEntry, writeEntry, type Entry } from './records-codec';

/**
 * The sync protocol's messages and their frames: `u8 type | payload`, one
 * message per FrameStream frame. A payload over COMPRESS_OVER bytes is
 * deflated (`type | 0x80`, then the inflated length): notes compress about
 * 4×. Inflating stops at the announced length, so a small frame cannot
 * expand into gigabytes.
 */

export const SYNC_PROTOCOL = 'vault-peers/sync/1';
export const BLOB_PROTOCOL = 'vault-peers/blob/1';
/** 2: SYNCED carries the sender's CAUGHT_UP for echoes too (one acknowledgement frame per applied change). */
export const PROTOCOL_VERSION = 2;

const COMPRESS_OVER = 1024;
/**
 * The largest inflated payload accepted: what the sender packs into a frame
 * (outbox.ts, at most about 900 KiB) with room to spare. A small compressed
 * frame cannot make this device hold or decode more.
 */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** The most items of each list a message may hold: twice what a sender puts in one (outbox.ts), so decoding one frame stays cheap. */
export const MAX_ENTRIES_PER_MESSAGE = 1000;
export const MAX_WANTS_PER_MESSAGE = 2000;
export const MAX_DOCS_PER_MESSAGE = 2000;
const COMPRESSED = 0x80;

export interface DocUpdate {
  readonly id: string;
  readonly update: Uint8Array;
}

export type SyncMessage =
  | { readonly type: 'hello'; readonly protocol: number; readonly folder: string; readonly device: string; readonly epoch: string; readonly seenEpoch: string; readonly seen: number }
  | { readonly type: 'changes'; readonly entries: readonly Entry[]; readonly docs: readonly DocUpdate[] }
  | { readonly type: 'caught-up'; readonly seq: number }
  | { readonly type: 'want-docs'; readonly wants: readonly { readonly id: string; readonly sv: Uint8Array }[] }
  | { readonly type: 'docs'; readonly docs: readonly DocUpdate[] }
  | { readonly type: 'doc-part'; readonly id: string; readonly total: number; readonly offset: number; readonly bytes: Uint8Array }
  /** `caughtUp`: as CAUGHT_UP, for echoes, sent with it (0: none). */
  | { readonly type: 'synced'; readonly seq: number; readonly caughtUp: number }
  | { readonly type: 'bye'; readonly reason: string };

export type BlobMessage =
  | { readonly type: 'want'; readonly hash: string; readonly from: number }
  | { readonly type: 'head'; readonly size: number; readonly chunks: readonly Uint8Array[] }
  | { readonly type: 'chunk'; readonly index: number; readonly bytes: Uint8Array }
  | { readonly type: 'gone'; readonly reason: string };

type Message = SyncMessage | BlobMessage;

const CODES: Record<Message['type'], number> = {
  hello: 1,
  changes: 2,
  'caught-up': 3,
  'want-docs': 4,
  docs: 5,
  'doc-part': 6,
  synced: 7,
  bye: 8,
  want: 16,
  head: 17,
  chunk: 18,
  gone: 19,
};
const TYPES = new Map(Object.entries(CODES).map(([type, code]) => [code, type as Message['type']]));

export function encodeMessage(message: Message): Uint8Array {
  const encoder = encoding.createEncoder();
  writePayload(encoder, message);
  const payload = encoding.toUint8Array(encoder);
  const code = CODES[message.type];
  if (payload.length > COMPRESS_OVER && message.type !== 'chunk') {
    const deflated = deflateSync(payload, { level: 6 });
    if (deflated.length < payload.length) {
      return encoding.encode((e) => {
        encoding.writeUint8(e, code | COMPRESSED);
        encoding.writeVarUint(e, payload.length);
        encoding.writeUint8Array(e, deflated);
      });
    }
  }
  const frame = new Uint8Array(payload.length + 1);
  frame[0] = code;
  frame.set(payload, 1);
  return frame;
}

/** @throws Error when the frame is not a well-formed message */
export function decodeMessage(frame: Uint8Array): Message {
  if (frame.length === 0) throw new Error('empty frame');
  const head = frame[0]!;
  const type = TYPES.get(head & ~COMPRESSED);
  if (!type) throw new Error(`unknown message type ${head}`);
  let payload = frame.subarray(1);
  if (head & COMPRESSED) {
    const decoder = decoding.createDecoder(payload);
    const length = decoding.readVarUint(decoder);
    payload = inflateBounded(decoding.readTailAsUint8Array(decoder), length);
  }
  const decoder = decoding.createDecoder(payload);
  const message = readPayload(decoder, type);
  if (decoding.hasContent(decoder)) throw new Error(`trailing bytes after ${type}`);
  return message;
}

function writePayload(e: encoding.Encoder, m: Message): void {
  switch (m.type) {
    case 'hello':
      encoding.writeVarUint(e, m.protocol);
      for (const text of [m.folder, m.device, m.epoch, m.seenEpoch]) encoding.writeVarString(e, text);
      encoding.writeVarUint(e, m.seen);
      return;
    case 'changes':
      encoding.writeVarUint(e, m.entries.length);
      for (const entry of m.entries) writeEntry(e, entry);
      writeDocs(e, m.docs);
      return;
    case 'docs':
      writeDocs(e, m.docs);
      return;
    case 'want-docs':
      encoding.writeVarUint(e, m.wants.length);
      for (const want of m.wants) {
        encoding.writeUint8Array(e, idBytes(want.id));
        encoding.writeVarUint8Array(e, want.sv);
      }
      return;
    case 'doc-part':
      encoding.writeUint8Array(e, idBytes(m.id));
      encoding.writeVarUint(e, m.total);
      encoding.writeVarUint(e, m.offset);
      encoding.writeVarUint8Array(e, m.bytes);
      return;
    case 'caught-up':
      encoding.writeVarUint(e, m.seq);
      return;
    case 'synced':
      encoding.writeVarUint(e, m.seq);
      encoding.writeVarUint(e, m.caughtUp);
      return;
    case 'bye':
    case 'gone':
      encoding.writeVarString(e, m.reason);
      return;
    case 'want':
      encoding.writeUint8Array(e, hashBytes32(m.hash));
      encoding.writeVarUint(e, m.from);
      return;
    case 'head':
      encoding.writeVarUint(e, m.size);
      encoding.writeVarUint(e, m.chunks.length);
      for (const chunk of m.chunks) encoding.writeUint8Array(e, chunk);
      return;
    case 'chunk':
      encoding.writeVarUint(e, m.index);
      encoding.writeVarUint8Array(e, m.bytes);
      return;
  }
}

function readPayload(d: decoding.Decoder, type: Message['type']): Message {
  switch (type) {
    case 'hello': {
      const protocol = decoding.readVarUint(d);
      const [folder, device, epoch, seenEpoch] = [0, 1, 2, 3].map(() => decoding.readVarString(d)) as [string, string, string, string];
      return { type, protocol, folder, device, epoch, seenEpoch, seen: decoding.readVarUint(d) };
    }
    case 'changes': {
      const entries = readList(d, MAX_ENTRIES_PER_MESSAGE, () => readEntry(d).entry);
      return { type, entries, docs: readDocs(d) };
    }
    case 'docs':
      return { type, docs: readDocs(d) };
    case 'want-docs':
      return { type, wants: readList(d, MAX_WANTS_PER_MESSAGE, () => ({ id: toHex(decoding.readUint8Array(d, 16)), sv: decoding.readVarUint8Array(d).slice() })) };
    case 'doc-part':
      return { type, id: toHex(decoding.readUint8Array(d, 16)), total: decoding.readVarUint(d), offset: decoding.readVarUint(d), bytes: decoding.readVarUint8Array(d).slice() };
    case 'caught-up':
      return { type, seq: decoding.readVarUint(d) };
    case 'synced':
      return { type, seq: decoding.readVarUint(d), caughtUp: decoding.readVarUint(d) };
    case 'bye':
    case 'gone':
      return { type, reason: decoding.readVarString(d) };
    case 'want':
      return { type, hash: toHex(decoding.readUint8Array(d, 32)), from: decoding.readVarUint(d) };
    case 'head': {
      const size = decoding.readVarUint(d);
      return { type, size, chunks: readList(d, Number.MAX_SAFE_INTEGER, () => decoding.readUint8Array(d, 32).slice()) };
    }
    case 'chunk':
      return { type, index: decoding.readVarUint(d), bytes: decoding.readVarUint8Array(d) };
  }
}

function writeDocs(e: encoding.Encoder, docs: readonly DocUpdate[]): void {
  encoding.writeVarUint(e, docs.length);
  for (const doc of docs) {
    encoding.writeUint8Array(e, idBytes(doc.id));
    encoding.writeVarUint8Array(e, doc.update);
  }
}

function readDocs(d: decoding.Decoder): DocUpdate[] {
  return readList(d, MAX_DOCS_PER_MESSAGE, () => ({ id: toHex(decoding.readUint8Array(d, 16)), update: decoding.readVarUint8Array(d).slice() }));
}

/** A count then that many items; a count over `max` or larger than the bytes left is refused before anything is read. */
function readList<T>(d: decoding.Decoder, max: number, read: () => T): T[] {
  const count = decoding.readVarUint(d);
  if (count > max) throw new Error(`a list of ${count} items, over ${max}`);
  if (count > d.arr.length - d.pos) throw new Error('list longer than its frame');
  const items: T[] = [];
  for (let i = 0; i < count; i += 1) items.push(read());
  return items;
}

function hashBytes32(hash: string): Uint8Array {
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i += 1) bytes[i] = Number.parseInt(hash.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/** Inflates `data`, which must give exactly `length` bytes (at most MAX_MESSAGE_BYTES), stopping early if it gives more. */
export function inflateBounded(data: Uint8Array, length: number): Uint8Array {
  if (length > MAX_MESSAGE_BYTES) throw new Error('message too large');
  const out = new Uint8Array(length);
  let at = 0;
  let over = false;
  const inflater = new Inflate((chunk) => {
    if (at + chunk.length > length) over = true;
    else out.set(chunk, at);
    at += chunk.length;
  });
  const step = 4096;
  for (let i = 0; i < data.length && !over; i += step) inflater.push(data.subarray(i, i + step), i + step >= data.length);
  if (over || at !== length) throw new Error('compressed payload does not match its length');
  return out;
}
