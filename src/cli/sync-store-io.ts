import { open, type FileHandle } from 'node:fs/promises';
import { crc32, type DocEntry, type Segment } from './sync-store-format';

/** File operations of `FileSyncStore`, each one whole: every write ends with an fdatasync. */

/** Writes `buffers` at `offset` of `path` and fdatasyncs; on failure cuts the file back to `offset` (best effort) and rethrows. */
export async function writeAtAndSync(path: string, offset: number, buffers: readonly Buffer[]): Promise<void> {
  let handle: FileHandle | null = null;
  try {
    handle = await open(path, 'r+');
    const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    let written = 0;
    while (written < total) {
      const { bytesWritten } = await handle.writev(written === 0 ? [...buffers] : [Buffer.concat(buffers).subarray(written)], offset + written);
      written += bytesWritten;
    }
    await handle.datasync();
  } catch (error) {
    await handle?.truncate(offset).catch(() => undefined);
    throw error;
  } finally {
    await handle?.close();
  }
}

/** Creates `path` with `bytes` (failing if it exists) and fdatasyncs it. */
export async function createAndSync(path: string, bytes: readonly Buffer[]): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    if (bytes.length) await handle.writev([...bytes], 0);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** The size of `path`, creating it empty if it is missing. */
export async function sizeOrCreate(path: string): Promise<number> {
  const handle = await open(path, 'a', 0o600);
  try {
    return (await handle.stat()).size;
  } finally {
    await handle.close();
  }
}

/** fsync of a directory: makes a rename in it durable. */
export async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return; // a folder cannot be opened for fsync there; NTFS journals the rename
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readFully(handle: FileHandle, bytes: Uint8Array, offset: number): Promise<number> {
  let filled = 0;
  while (filled < bytes.length) {
    const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, offset + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}

/** The bytes of each segment of docs file `path`, in order; null for a segment that is short or fails its CRC. */
export async function readSegments(path: string, segments: readonly Segment[]): Promise<Array<Uint8Array | null>> {
  if (segments.length === 0) return [];
  const handle = await open(path, 'r');
  try {
    const out: Array<Uint8Array | null> = [];
    for (const [offset, length, sum] of segments) {
      const bytes = new Uint8Array(length);
      const filled = await readFully(handle, bytes, offset);
      out.push(filled === length && crc32(bytes) === sum ? bytes : null);
    }
    return out;
  } finally {
    await handle.close();
  }
}

/**
 * Copies every segment of `docs` from docs file `from` into the new file
 * `to`, packed, and fdatasyncs it. Segments are copied in the order they
 * sit in `from`, reading it front to back a few MiB at a time (never all
 * in memory). Checksums travel unchanged, so damage is still caught.
 * @returns where each document now is, and the new file's size
 */
export async function copyDocs(from: string, to: string, docs: ReadonlyMap<string, DocEntry>): Promise<{ docs: Map<string, DocEntry>; end: number }> {
  const BLOCK = 4 * 1024 * 1024;
  const moved = new Map<string, DocEntry>();
  const pieces: Array<{ entry: DocEntry; slot: number; segment: Segment }> = [];
  for (const [id, entry] of docs) {
    const copy: DocEntry = { updates: new Array<Segment>(entry.updates.length), base: null };
    moved.set(id, copy);
    entry.updates.forEach((segment, slot) => pieces.push({ entry: copy, slot, segment }));
    if (entry.base) pieces.push({ entry: copy, slot: -1, segment: entry.base });
  }
  pieces.sort((a, b) => a.segment[0] - b.segment[0]);

  const target = await open(to, 'wx', 0o600);
  try {
    const source = await open(from, 'r');
    try {
      let window = Buffer.alloc(0);
      let windowAt = 0;
      let out: Buffer[] = [];
      let outBytes = 0;
      let end = 0;
      for (const { entry, slot, segment } of pieces) {
        const [offset, length, sum] = segment;
        if (offset < windowAt || offset + length > windowAt + window.length) {
          window = Buffer.alloc(Math.max(BLOCK, length));
          window = window.subarray(0, await readFully(source, window, offset));
          windowAt = offset;
        }
        // Exactly `length` bytes, zeros where the file lost some: the CRC then tells loadDoc, and later segments stay in place.
        const piece = Buffer.alloc(length);
        window.copy(piece, 0, offset - windowAt, Math.min(window.length, offset - windowAt + length));
        out.push(piece);
        outBytes += length;
        const placed: Segment = [end, length, sum];
        end += length;
        if (slot === -1) entry.base = placed;
        else entry.updates[slot] = placed;
        if (outBytes >= BLOCK) {
          await target.writev(out, end - outBytes);
          out = [];
          outBytes = 0;
        }
      }
      if (outBytes) await target.writev(out, end - outBytes);
      await target.datasync();
      return { docs: moved, end };
    } finally {
      await source.close();
    }
  } finally {
    await target.close();
  }
}
