import type { FileHandle } from 'node:fs/promises';
import * as zlib from 'node:zlib';
import type { FileRecord, PeerMark, StoreHeader } from '../sync/ports';

/**
 * On-disk format of `FileSyncStore` (format 1).
 *
 * `index.log`: the 8-byte magic `VPSYNC\0\x01`, then frames:
 *
 *     u32 LE payload length | u32 LE CRC-32 of the payload | payload (UTF-8 JSON)
 *
 * The first frame is a `SnapshotFrame` (written by `reset` and by
 * compaction, each time as a new file renamed over the old one); every
 * commit appends one `BatchFrame`. A frame that is cut short, fails its
 * CRC or does not parse ends the log: what came before it is the state.
 *
 * `docs-<gen>.log`: the bytes of note documents (Yjs updates and base
 * texts), appended, with no framing of their own: frames point into it with
 * `Segment`s (offset, length, CRC-32), so loading the index never reads a
 * document, and a document is read on demand.
 */

export const MAGIC = Buffer.from('VPSYNC\0\x01', 'latin1');
export const FRAME_HEADER = 8;
/** Larger than any frame the store writes (a snapshot of 100,000 records is about 40 MB); a length above it is damage. */
export const MAX_FRAME = 512 * 1024 * 1024;

/** Where some bytes of a docs file are: [offset, length, crc32]. */
export type Segment = readonly [number, number, number];

/** A record as JSON: every field as it is, `sv` as base64. */
export type RecordJson = Omit<FileRecord, 'sv'> & { readonly sv: string | null };

/** A document's place in the docs file: its updates in order, and its base text. */
export interface DocEntry {
  updates: Segment[];
  base: Segment | null;
}

export interface SnapshotFrame {
  readonly t: 'snapshot';
  readonly header: StoreHeader;
  /** The generation of the docs file the segments point into. */
  readonly gen: string;
  readonly seq: number;
  readonly settings: string;
  readonly records: readonly RecordJson[];
  readonly peers: readonly PeerMark[];
  /** [id, update segments, base segment]. */
  readonly docs: ReadonlyArray<readonly [string, readonly Segment[], Segment | null]>;
}

export interface BatchFrame {
  readonly t: 'batch';
  readonly seq?: number;
  readonly settings?: string;
  readonly records?: readonly RecordJson[];
  readonly forget?: readonly string[];
  readonly peers?: readonly PeerMark[];
  /** [id, replace (1) or append (0), update segment, base segment]. */
  readonly docs?: ReadonlyArray<readonly [string, 0 | 1, Segment | null, Segment | null]>;
}

export type Frame = SnapshotFrame | BatchFrame;

export function recordToJson(record: FileRecord): RecordJson {
  return { ...record, sv: record.sv === null ? null : Buffer.from(record.sv.buffer, record.sv.byteOffset, record.sv.byteLength).toString('base64') };
}

export function recordFromJson(json: RecordJson): FileRecord {
  return { ...json, sv: json.sv === null ? null : Uint8Array.from(Buffer.from(json.sv, 'base64')) };
}

export function encodeFrame(frame: Frame): Buffer {
  const payload = Buffer.from(JSON.stringify(frame), 'utf8');
  const out = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(crc32(payload), 4);
  payload.copy(out, FRAME_HEADER);
  return out;
}

/**
 * Reads the frames of an index file from `start`, a block at a time (never
 * the whole file at once), calling `onFrame` for each good one. Stops at the
 * first frame that is cut short (`torn`) or damaged (`damaged`: a bad CRC, a
 * length out of bounds, JSON that does not parse, or `onFrame` refusing it).
 * @returns where the good frames end, and why reading stopped there
 */
export async function readFrames(
  handle: FileHandle,
  start: number,
  size: number,
  onFrame: (frame: Frame, bytes: number) => boolean,
): Promise<{ end: number; stop: 'end' | 'torn' | 'damaged' }> {
  const BLOCK = 1024 * 1024;
  let buffer = Buffer.alloc(0);
  let bufferAt = start; // file offset of buffer[0]
  let end = start;
  const fill = async (upTo: number): Promise<boolean> => {
    // Makes buffer hold the file's bytes [end, upTo), if the file has them.
    if (upTo > size) return false;
    if (bufferAt + buffer.length >= upTo) return true;
    const keep = buffer.subarray(end - bufferAt);
    const want = Math.max(upTo - end, BLOCK);
    const next = Buffer.allocUnsafe(Math.min(want, size - end));
    keep.copy(next, 0);
    let filled = keep.length;
    while (filled < next.length) {
      const { bytesRead } = await handle.read(next, filled, next.length - filled, end + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    buffer = next.subarray(0, filled);
    bufferAt = end;
    return bufferAt + buffer.length >= upTo;
  };
  for (;;) {
    if (end === size) return { end, stop: 'end' };
    if (!(await fill(end + FRAME_HEADER))) return { end, stop: 'torn' };
    const at = end - bufferAt;
    const length = buffer.readUInt32LE(at);
    const sum = buffer.readUInt32LE(at + 4);
    if (length > MAX_FRAME) return { end, stop: 'damaged' };
    if (!(await fill(end + FRAME_HEADER + length))) return { end, stop: 'torn' };
    const from = end - bufferAt + FRAME_HEADER;
    const payload = buffer.subarray(from, from + length);
    if (crc32(payload) !== sum) return { end, stop: 'damaged' };
    let frame: Frame;
    try {
      frame = JSON.parse(payload.toString('utf8')) as Frame;
    } catch {
      return { end, stop: 'damaged' };
    }
    if (!onFrame(frame, length)) return { end, stop: 'damaged' };
    end += FRAME_HEADER + length;
  }
}

/** CRC-32 (zlib's), from Node's zlib where it has one (20.15+), else computed here. */
export const crc32: (data: Uint8Array) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? (data) => zlib.crc32(data) >>> 0 : crc32InJs;

let table: Uint32Array | null = null;

function crc32InJs(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n += 1) {
      let c = n;
      for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of data) crc = table[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** For the spec: both CRC implementations must agree. */
export const crc32ForSpec = { js: crc32InJs };
