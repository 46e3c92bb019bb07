import { constants } from 'fs';
import { open } from 'fs/promises';

/**
 * Reading and writing part of a file, which Obsidian's DataAdapter cannot
 * do: an attachment of 100 MB is hashed, served and received 512 KiB at a
 * time, never held whole. Desktop only, like the plugin: Node's `fs` in
 * Obsidian's Electron, on absolute paths from `FileSystemAdapter.getFullPath`.
 */
export interface ByteRanges {
  /** Up to `length` bytes from `offset` (fewer at the end), or null when there is no file (or a folder) there. */
  read(fullPath: string, offset: number, length: number): Promise<Uint8Array | null>;
  /** Cuts the file at `offset` (creating it if need be), then writes `bytes` there. */
  writeAt(fullPath: string, offset: number, bytes: Uint8Array): Promise<void>;
}

const GONE = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

export const nodeByteRanges: ByteRanges = {
  async read(fullPath, offset, length) {
    let handle;
    try {
      handle = await open(fullPath, constants.O_RDONLY);
    } catch (error) {
      if (GONE.has((error as { code?: string }).code ?? '')) return null;
      throw error;
    }
    try {
      if (!(await handle.stat()).isFile()) return null;
      const buffer = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await handle.read(buffer, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buffer.subarray(0, got);
    } catch (error) {
      if (GONE.has((error as { code?: string }).code ?? '')) return null;
      throw error;
    } finally {
      await handle.close();
    }
  },
  async writeAt(fullPath, offset, bytes) {
    const handle = await open(fullPath, constants.O_RDWR | constants.O_CREAT);
    try {
      await handle.truncate(offset);
      let written = 0;
      while (written < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, offset + written);
        written += bytesWritten;
      }
    } finally {
      await handle.close();
    }
  },
};
