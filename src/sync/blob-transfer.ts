import { PeerProtocolError, VaultPeersError, errorMessage } from '../core/errors';
import type { FrameStream, PeerConnection } from '../core/ports';
import type { Folder } from './folder';
import { CHUNK_BYTES, chunkCount, hashFileInChunks, hashOfChunks } from './hash';
import { REFUSED_CHUNK, REFUSED_FRAME, REFUSED_SIZE, quotePath } from './messages';
import { bytesEqual } from './notes';
import { SyncRefusal } from './refusal';
import { BLOB_PROTOCOL, decodeMessage, encodeMessage, type BlobMessage } from './wire';
import { verifyStaged } from './writer';

/**
 * An attachment's content over its own stream (`vault-peers/blob/1`), so a
 * large file never holds up a note edit. The side that wants it asks for
 * `{hash, first chunk}`; the other answers with the chunk hashes (checked
 * against the content hash before anything else) and the chunks, each
 * checked on arrival and written to staging, where a transfer cut short is
 * resumed next time.
 */

export type FetchOutcome = 'done' | 'gone';

/** Writing a received chunk to this device's disk failed (a full disk, say): this device's problem, to be shown, not a dropped connection. */
export class StagingFailed extends VaultPeersError {}

/** What a fetch reports as it goes. */
export interface FetchProgress {
  /** The peer's HEAD checked out: `bytes` are still to come (less than the size when a transfer resumes). */
  onStart(bytes: number): void;
  onBytes(bytes: number): void;
  /** The stream, so that stopping the fetcher can reset it. */
  onStream(stream: FrameStream): void;
}

/**
 * Fetches `hash` into staging from the peer on `connection`.
 * @param path where the content will go, for messages
 * @param size the size the peer's index announced for it: a HEAD of another size is refused, so a peer cannot make
 *   this device stage more than the person can see is coming
 * @throws SyncRefusal when the peer sends data that does not match its hash or its size (nothing of it is staged)
 */
export async function fetchBlob(folder: Folder, connection: PeerConnection, hash: string, path: string, size: number, progress: FetchProgress): Promise<FetchOutcome> {
  let staged = await folder.files.stagedLength(hash);
  let from = Math.floor(staged / CHUNK_BYTES);
  const stream = await connection.openStream(BLOB_PROTOCOL);
  progress.onStream(stream);
  try {
    await stream.write(encodeMessage({ type: 'want', hash, from }));
    const head = await readBlobMessage(stream);
    if (head?.type === 'gone' || head === null) return 'gone';
    if (head.type !== 'head') throw new SyncRefusal(REFUSED_FRAME);
    if (head.size !== size) throw new SyncRefusal(REFUSED_SIZE(path));
    if (chunkCount(head.size) !== head.chunks.length || (await hashOfChunks(head.chunks, folder.options.sha256)) !== hash) throw new SyncRefusal(REFUSED_CHUNK(path));
    folder.staged.add(hash);
    if (staged > head.size) {
      await folder.files.discardStaged(hash);
      staged = 0;
      from = 0;
    }
    progress.onStart(Math.max(0, head.size - from * CHUNK_BYTES));
    for (let index = from; index < head.chunks.length; index += 1) {
      const message = await readBlobMessage(stream);
      if (message?.type === 'gone') return 'gone';
      if (message?.type !== 'chunk' || message.index !== index) throw new SyncRefusal(REFUSED_FRAME);
      const expectedLength = Math.min(CHUNK_BYTES, head.size - index * CHUNK_BYTES);
      if (message.bytes.length !== expectedLength || !bytesEqual(await folder.options.sha256(message.bytes), head.chunks[index]!)) throw new SyncRefusal(REFUSED_CHUNK(path));
      await folder.files.writeStaged(hash, index * CHUNK_BYTES, message.bytes).catch((error: unknown) => {
        throw new StagingFailed(errorMessage(error));
      });
      progress.onBytes(message.bytes.length);
    }
    if (head.size === 0) await folder.files.writeStaged(hash, 0, new Uint8Array(0));
    if (!(await verifyStaged(folder, hash, head.size))) {
      // Staged bytes from an earlier run went bad on disk: start over next time.
      await folder.files.discardStaged(hash);
      return 'gone';
    }
    return 'done';
  } finally {
    stream.reset();
  }
}

/** Answers one request on an incoming blob stream, from whichever file on disk has the content. */
export async function serveBlob(folder: Folder, stream: FrameStream): Promise<void> {
  try {
    const want = await readBlobMessage(stream);
    if (want?.type !== 'want') throw new SyncRefusal(REFUSED_FRAME);
    const source = await findSource(folder, want.hash);
    if (!source) {
      await stream.write(encodeMessage({ type: 'gone', reason: 'This device no longer has that version.' }));
      await stream.finish();
      return;
    }
    await stream.write(encodeMessage({ type: 'head', size: source.size, chunks: source.chunks }));
    for (let index = want.from; index < source.chunks.length; index += 1) {
      const length = Math.min(CHUNK_BYTES, source.size - index * CHUNK_BYTES);
      const bytes = await folder.files.readRange(source.path, index * CHUNK_BYTES, length);
      if (!bytes || bytes.length !== length || !bytesEqual(await folder.options.sha256(bytes), source.chunks[index]!)) {
        await stream.write(encodeMessage({ type: 'gone', reason: `${quotePath(source.path)} changed while it was being sent.` }));
        break;
      }
      await stream.write(encodeMessage({ type: 'chunk', index, bytes }));
    }
    await stream.finish();
  } catch (error) {
    stream.reset();
    if (error instanceof SyncRefusal) throw error;
  }
}

/**
 * A file on disk that holds `hash`, with its chunk hashes. Those are kept
 * for the file's size and time (`folder.chunkHashes`), so serving a large
 * file again (another peer, a resumed transfer) does not read it all twice;
 * a file changed without its size or time changing is still caught, since
 * each chunk is checked against its hash as it is sent.
 */
async function findSource(folder: Folder, hash: string): Promise<{ path: string; size: number; chunks: Uint8Array[] } | null> {
  for (const record of folder.index.withDiskHash(hash)) {
    const stat = await folder.files.stat(record.disk!.path);
    if (!stat) continue;
    const known = folder.chunkHashes.get(stat.path);
    if (known && known.size === stat.size && known.mtime === stat.mtime && known.hash === hash) return { path: stat.path, size: stat.size, chunks: known.chunks };
    const hashed = await hashFileInChunks((offset, length) => folder.files.readRange(stat.path, offset, length), stat.size, folder.options.sha256);
    if (hashed?.hash !== hash) continue;
    folder.chunkHashes.set(stat.path, { size: stat.size, mtime: stat.mtime, hash, chunks: hashed.chunks });
    return { path: stat.path, size: stat.size, chunks: hashed.chunks };
  }
  return null;
}

async function readBlobMessage(stream: FrameStream): Promise<BlobMessage | null> {
  const frame = await stream.read().catch((error: unknown) => {
    throw error instanceof PeerProtocolError ? new SyncRefusal(error.message) : error;
  });
  if (frame === null) return null;
  let message;
  try {
    message = decodeMessage(frame);
  } catch {
    throw new SyncRefusal(REFUSED_FRAME);
  }
  if (!['want', 'head', 'chunk', 'gone'].includes(message.type)) throw new SyncRefusal(REFUSED_FRAME);
  return message as BlobMessage;
}
