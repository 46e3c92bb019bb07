import { toHex } from '../core/bytes';

/**
 * Content identity. A file's `contentHash` is SHA-256 over the SHA-256 of
 * each of its CHUNK_BYTES-sized chunks (the last one shorter), so that a
 * large file is hashed, sent and verified a chunk at a time without ever
 * holding it whole, and a transfer resumes after the last good chunk. Web
 * Crypto has no incremental digest, which is the other reason for the two
 * levels. SHA-256 is also Syncthing's block hash.
 */

/** Chunk size of the content hash and of attachment transfers. Part of the protocol: changing it changes every hash. */
export const CHUNK_BYTES = 512 * 1024;

/** One SHA-256 digest. */
export type Sha256 = (bytes: Uint8Array) => Promise<Uint8Array>;

/** SHA-256 through Web Crypto (Node 20, Electron and browsers). */
export const webSha256: Sha256 = async (bytes) => {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return new Uint8Array(digest);
};

/** The number of chunks of a file of `size` bytes (0 for an empty file). */
export function chunkCount(size: number): number {
  return Math.ceil(size / CHUNK_BYTES);
}

/** The content hash of a file given the SHA-256 of each of its chunks, in order. */
export async function hashOfChunks(chunkHashes: readonly Uint8Array[], sha256: Sha256 = webSha256): Promise<string> {
  const joined = new Uint8Array(chunkHashes.length * 32);
  chunkHashes.forEach((hash, i) => joined.set(hash, i * 32));
  return toHex(await sha256(joined));
}

/** The SHA-256 of each chunk of `bytes`. */
export async function chunkHashesOf(bytes: Uint8Array, sha256: Sha256 = webSha256): Promise<Uint8Array[]> {
  const hashes: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length; offset += CHUNK_BYTES) {
    hashes.push(await sha256(bytes.subarray(offset, offset + CHUNK_BYTES)));
  }
  return hashes;
}

/** The content hash of bytes held in memory (notes, small files). Adapters use it to check an `Expected` hash. */
export async function contentHash(bytes: Uint8Array, sha256: Sha256 = webSha256): Promise<string> {
  return hashOfChunks(await chunkHashesOf(bytes, sha256), sha256);
}

/**
 * Reads a file a chunk at a time and hashes it: its content hash, chunk
 * hashes and size, or null when the file is gone (or changed size while it
 * was read: the caller reads it again later).
 */
export async function hashFileInChunks(
  readRange: (offset: number, length: number) => Promise<Uint8Array | null>,
  size: number,
  sha256: Sha256 = webSha256,
): Promise<{ hash: string; chunks: Uint8Array[] } | null> {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < size; offset += CHUNK_BYTES) {
    const want = Math.min(CHUNK_BYTES, size - offset);
    const bytes = await readRange(offset, want);
    if (!bytes || bytes.length !== want) return null;
    chunks.push(await sha256(bytes));
  }
  return { hash: await hashOfChunks(chunks, sha256), chunks };
}

/** A 32-bit number from the first bytes of a hex digest (Yjs client ids, replica ids). */
export function uint32OfHex(hex: string): number {
  return Number.parseInt(hex.slice(0, 8), 16) >>> 0;
}
