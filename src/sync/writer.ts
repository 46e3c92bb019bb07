import { atOnce } from './bounded';
import { claimedByAnother, commitWritten, diskState, writeNote, writeNoteFile } from './disk';
import type { Folder } from './folder';
import { CHUNK_BYTES, hashOfChunks } from './hash';
import { ingestChanges } from './local';
import { writeFailed } from './messages';
import { conflictOriginal } from './paths';
import type { Expected, FileRecord } from './ports';
import { bumpVersion } from './versions';
import { errorMessage } from '../core/errors';

/**
 * Records → this device's disk: moves, deletes, note texts, and attachments
 * whose content is already somewhere on disk. Every write is a
 * compare-and-swap on what the engine last saw; when the disk moved on, the
 * path is read in first (a local edit then wins over a delete, merges into a
 * note, or keeps both versions of an attachment) and the write is tried
 * again. Attachments whose content is nowhere on this device are left to the
 * blob fetcher (`folder.wanted`).
 */

/** Brings the disk in line with these records. Runs inside a folder task. */
export async function materialize(folder: Folder, ids: Iterable<string>): Promise<void> {
  let pending = [...new Set(ids)];
  for (let pass = 0; pass < 4 && pending.length > 0; pass += 1) {
    const blocked: string[] = [];
    // Notes written where they are (or new) go in groups, at once (see `placeNotes`); everything else one by one, in order.
    const notes: string[] = [];
    for (const id of pending) {
      if (writesInPlace(folder, id)) {
        notes.push(id);
        if (notes.length >= NOTES_PER_BATCH) await placeNotes(folder, notes.splice(0));
        continue;
      }
      await placeNotes(folder, notes.splice(0));
      try {
        if (!(await place(folder, id))) blocked.push(id);
      } catch (error) {
        reportFailure(folder, id, error);
      }
    }
    await placeNotes(folder, notes.splice(0));
    if (blocked.length === pending.length && blocked.length > 0) await stepAside(folder, blocked[0]!);
    pending = blocked;
  }
  // Staged content nothing needs any more (its record was deleted or changed meanwhile) is not kept.
  for (const key of [...folder.staged]) {
    if (folder.fetching.has(key) || folder.needsContent(key)) continue;
    folder.staged.delete(key);
    await folder.files.discardStaged(key);
  }
}

/** Notes written to disk at once: each write waits on the disk's latency (a temporary file and two fsyncs), not on the processor. */
export const NOTES_AT_ONCE = 16;
/** Notes whose records are stored in one batch after their files are written. */
export const NOTES_PER_BATCH = 256;

/** Whether a record is a note whose text goes to its own path (no move first): those may be written side by side. */
function writesInPlace(folder: Folder, id: string): boolean {
  const record = folder.index.get(id);
  if (!record || record.deleted || record.kind !== 'text' || record.hash === '') return false;
  if (record.disk && record.disk.path !== record.path) return false;
  return !folder.filter.excludedReason(record.path, record.size);
}

/**
 * Writes notes at different paths, NOTES_AT_ONCE at a time (each a
 * compare-and-swap of its own), then stores their records in one batch.
 * A kill before that batch leaves files that hold exactly their documents'
 * text while the store still says otherwise: the next scan takes them as
 * written (`alreadyWritten` in local-look.ts), so nothing is lost or taken for an
 * edit made here.
 */
async function placeNotes(folder: Folder, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const outcomes = new Map<string, Awaited<ReturnType<typeof writeNoteFile>>>();
  await atOnce(ids, NOTES_AT_ONCE, async (id) => {
    try {
      outcomes.set(id, await writeNoteFile(folder, id));
    } catch (error) {
      reportFailure(folder, id, error);
    }
  });
  const written = ids.flatMap((id) => {
    const outcome = outcomes.get(id);
    return outcome && typeof outcome !== 'string' ? [outcome] : [];
  });
  try {
    await commitWritten(folder, written);
  } catch (error) {
    // The files are written; the records say otherwise until the disk is looked at again (the writer's retry, or a scan).
    for (const { record } of written) reportFailure(folder, record.id, error);
    return;
  }
  for (const id of ids) {
    const outcome = outcomes.get(id);
    if (outcome === undefined) continue;
    const record = folder.index.get(id);
    const result: Outcome = outcome === 'changed-on-disk' ? { reread: record?.disk?.path ?? record?.path ?? id } : 'done';
    folder.options.trace?.('place', { id, path: record?.path, deleted: false, hash: record?.hash, disk: record?.disk, outcome: result });
    try {
      await settle(folder, id, result);
    } catch (error) {
      reportFailure(folder, id, error);
    }
  }
}

function reportFailure(folder: Folder, id: string, error: unknown): void {
  const record = folder.index.get(id);
  folder.emit({ type: 'error', message: writeFailed(record?.path ?? id, errorMessage(error)) });
}

/**
 * One record onto disk. False when its target is taken by a file that is
 * itself about to move: try again after it. When the disk changed under a
 * write (the compare-and-swap failed), the change is left to the watcher,
 * whose batch sees it in context (a move is paired with its delete; a note
 * edit merges), and the write is retried after it; only if no event came
 * within READ_IN_AFTER_MS (longer than any watcher batch) does the writer
 * read the path in itself.
 */
async function place(folder: Folder, id: string): Promise<boolean> {
  const record = folder.index.get(id);
  if (!record) return true;
  const outcome = record.deleted ? await removeFromDisk(folder, record) : await writeToDisk(folder, record);
  folder.options.trace?.('place', { id, path: record.path, deleted: record.deleted, hash: record.hash, disk: record.disk, outcome });
  return settle(folder, id, outcome);
}

/** What an outcome means for the record's retries: false when it is blocked (tried again after the others). */
async function settle(folder: Folder, id: string, outcome: Outcome): Promise<boolean> {
  if (outcome === 'done') {
    folder.casMisses.delete(id);
    return true;
  }
  if (outcome === 'blocked') return false;
  const now = folder.options.now();
  const since = folder.casMisses.get(id) ?? now;
  folder.casMisses.set(id, since);
  if (now - since < READ_IN_AFTER_MS) return true;
  folder.casMisses.delete(id);
  await ingestChanges(folder, [{ type: 'modified', path: outcome.reread }]);
  return true;
}

/** How long a write refused by a compare-and-swap waits for the watcher before the writer reads the path itself. */
export const READ_IN_AFTER_MS = 3000;

type Outcome = 'done' | 'blocked' | { readonly reread: string };

async function removeFromDisk(folder: Folder, record: FileRecord): Promise<Outcome> {
  if (!record.disk) return 'done';
  if (!(await folder.files.remove(record.disk.path, await expectedOf(folder, record)))) return { reread: record.disk.path };
  await folder.commit({ records: [{ ...record, disk: null }] });
  return 'done';
}

async function writeToDisk(folder: Folder, record: FileRecord): Promise<Outcome> {
  if (folder.filter.excludedReason(record.path, record.size)) return 'done';
  if (record.disk && record.disk.path !== record.path) {
    const moved = await moveOnDisk(folder, record);
    if (moved !== 'done') return moved;
    return writeToDisk(folder, folder.index.get(record.id)!);
  }
  if (record.kind === 'text') {
    // Its content has not arrived yet: writing an empty note now would only be noise.
    if (record.hash === '') return 'done';
    const written = await writeNote(folder, record.id);
    return written === 'changed-on-disk' ? { reread: record.disk?.path ?? record.path } : 'done';
  }
  if (record.disk?.hash === record.hash) return 'done';
  const placed = await placeBlob(folder, record);
  if (placed === 'missing' && conflictOriginal(record.path) !== null && record.changed.d === folder.short && record.disk === null) {
    // A conflict copy of a version this device made and has since replaced itself: nothing to keep.
    const seq = folder.nextSeq();
    await folder.commit({ records: [{ ...record, deleted: true, version: bumpVersion(record.version, folder.replica, seq), seq }] });
    return 'done';
  }
  if (placed === 'missing') {
    folder.want(record.hash, record.id);
    return 'done';
  }
  return placed;
}

async function moveOnDisk(folder: Folder, record: FileRecord): Promise<Outcome> {
  const disk = record.disk!;
  if (claimedByAnother(folder, record.id, record.path)) {
    // Another record's file is (or was) there: wait until it moves away, or the watcher says it went.
    const claimant = folder.index.atDisk(record.path)!;
    return claimant.deleted || claimant.path !== record.path ? 'blocked' : { reread: record.path };
  }
  // With the content it should have, so another file that took the name meanwhile is never moved instead.
  if (await folder.files.rename(disk.path, record.path, await expectedOf(folder, record))) {
    const stat = await folder.files.stat(record.path);
    await folder.commit({ records: [{ ...record, disk: stat ? diskState(stat, disk.hash) : { ...disk, path: record.path } }] });
    return 'done';
  }
  if (!(await folder.files.stat(disk.path))) return { reread: disk.path };
  const target = await folder.files.stat(record.path);
  // The source is there but is not what we believe (it changed): that change is read in first.
  if (!target) return { reread: disk.path };
  const occupant = folder.index.atDisk(record.path);
  if (occupant && occupant.id !== record.id && (occupant.deleted || occupant.path !== occupant.disk!.path)) return 'blocked';
  // Someone else's file is at the target: take it in; the collision rules then give one of them another name.
  return { reread: record.path };
}

/** Breaks a cycle of moves (a ↔ b) by moving one file to a hidden temporary name, which the engine never syncs. */
async function stepAside(folder: Folder, id: string): Promise<void> {
  const record = folder.index.get(id);
  if (!record?.disk) return;
  const slash = record.disk.path.lastIndexOf('/');
  const aside = `${slash < 0 ? '' : record.disk.path.slice(0, slash + 1)}.vault-peers-move-${id}`;
  // Only the content we know: a file that changed meanwhile stays where it is until the watcher brings the change in.
  if (await folder.files.rename(record.disk.path, aside, await expectedOf(folder, record))) await folder.commit({ records: [{ ...record, disk: { ...record.disk, path: aside } }] });
}

/**
 * An attachment's content from a file already on disk (a rename or a copy
 * elsewhere, or a finished transfer in staging), committed in place.
 */
async function placeBlob(folder: Folder, record: FileRecord): Promise<Outcome | 'missing'> {
  const key = record.hash;
  const staged = await folder.files.stagedLength(key);
  if (staged !== record.size || !(await verifyStaged(folder, key, record.size))) {
    const source = folder.index.withDiskHash(record.hash).find((r) => r.id !== record.id && r.disk);
    if (!source || !(await copyToStaging(folder, source.disk!.path, key, record.size))) return 'missing';
  }
  const expected: Expected = record.disk ? { kind: 'hash', hash: record.disk.hash } : { kind: 'absent' };
  if (!record.disk && claimedByAnother(folder, record.id, record.path)) return { reread: record.path };
  if (!(await folder.files.commitStaged(key, record.path, expected))) return { reread: record.path };
  folder.staged.delete(key);
  const stat = await folder.files.stat(record.path);
  await folder.commit({ records: [{ ...record, disk: diskState(stat ?? { path: record.path, size: record.size, mtime: 0 }, record.hash) }] });
  return 'done';
}

async function copyToStaging(folder: Folder, from: string, key: string, size: number): Promise<boolean> {
  folder.staged.add(key);
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < size; offset += CHUNK_BYTES) {
    const bytes = await folder.files.readRange(from, offset, Math.min(CHUNK_BYTES, size - offset));
    if (!bytes || bytes.length !== Math.min(CHUNK_BYTES, size - offset)) return false;
    await folder.files.writeStaged(key, offset, bytes);
    chunks.push(await folder.options.sha256(bytes));
  }
  if (size === 0) await folder.files.writeStaged(key, 0, new Uint8Array(0));
  if ((await hashOfChunks(chunks, folder.options.sha256)) === key) return true;
  await folder.files.discardStaged(key);
  return false;
}

/** Reads a staged file back and checks it against its content hash before it may replace anything. */
export async function verifyStaged(folder: Folder, key: string, size: number): Promise<boolean> {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < size; offset += CHUNK_BYTES) {
    const bytes = await folder.files.readStaged(key, offset, Math.min(CHUNK_BYTES, size - offset));
    if (bytes.length !== Math.min(CHUNK_BYTES, size - offset)) return false;
    chunks.push(await folder.options.sha256(bytes));
  }
  return (await hashOfChunks(chunks, folder.options.sha256)) === key;
}

/** What a move or a delete expects to find: the content the index says is on disk (its hash, for notes too). */
function expectedOf(_folder: Folder, record: FileRecord): Promise<Expected> {
  return Promise.resolve(record.disk ? { kind: 'hash', hash: record.disk.hash } : { kind: 'absent' });
}
