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
 * `to`, packed in order, in writes of a few MiB (never all in memory), and
 * fdatasyncs it. Checksums travel unchanged, so damage is still caught.
 * @returns where each document now is, and the new file's size
 */
export async function copyDocs(from: string, to: string, docs: ReadonlyMap<string, DocEntry>): Promise<{ docs: Map<string, DocEntry>; end: number }> {
  const moved = new Map<string, DocEntry>();
  const target = await open(to, 'wx', 0o600);
  try {
    const source = await open(from, 'r');
    try {
      let end = 0;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        if (pendingBytes) await target.writev(pending, end - pendingBytes);
        pending = [];
        pendingBytes = 0;
      };
      const move = async ([offset, length, sum]: Segment): Promise<Segment> => {
        const bytes = Buffer.alloc(length);
        await readFully(source, bytes, offset);
        pending.push(bytes);
        pendingBytes += length;
        end += length;
        if (pendingBytes >= 4 * 1024 * 1024) await flush();
        return [end - length, length, sum];
      };
      for (const [id, entry] of docs) {
        const updates: Segment[] = [];
        for (const segment of entry.updates) updates.push(await move(segment));
        moved.set(id, { updates, base: entry.base ? await move(entry.base) : null });
      }
      await flush();
      await target.datasync();
      return { docs: moved, end };
    } finally {
      await source.close();
    }
  } finally {
    await target.close();
  }
}
