import type { Folder } from './folder';
import { contentHash, hashFileInChunks } from './hash';
import { noteText } from './notes';
import type { DiskState, DocWrite, FileRecord, FileStat } from './ports';

/**
 * Reading files for the engine, and writing notes: the one place a note's
 * text goes to disk, always as a compare-and-swap against its base.
 */

/** Notes larger than this are synced as whole files (a CRDT is no help for them, and diffs get slow). */
export const MAX_NOTE_BYTES = 8 * 1024 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** The text of a note's bytes, or null when they are not valid UTF-8 (such a file is synced as a whole file). */
export function decodeNote(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

export function encodeNote(text: string): Uint8Array {
  return encoder.encode(text);
}

export function hashText(folder: Folder, text: string): Promise<string> {
  return contentHash(encoder.encode(text), folder.options.sha256);
}

/** What a file holds now, read a chunk at a time: its hash, or null if it vanished or changed while read. */
export async function hashOnDisk(folder: Folder, stat: FileStat): Promise<string | null> {
  const result = await hashFileInChunks((offset, length) => folder.files.readRange(stat.path, offset, length), stat.size, folder.options.sha256);
  return result?.hash ?? null;
}

export function diskState(stat: FileStat, hash: string): DiskState {
  return { path: stat.path, hash, size: stat.size, mtime: stat.mtime };
}

export type NoteWrite = 'written' | 'unchanged' | 'changed-on-disk' | 'gone';

/** A note written to disk whose record and base are not stored yet: `commitWritten` stores them (one batch for many). */
export interface WrittenNote {
  readonly record: FileRecord;
  readonly doc: DocWrite;
}

/**
 * Writes a note's document text to its path if the disk still holds the base
 * (or nothing, for a note not on disk yet).
 * @returns `changed-on-disk` when the disk moved on: the caller ingests it and tries again
 */
export async function writeNote(folder: Folder, id: string): Promise<NoteWrite> {
  const outcome = await writeNoteFile(folder, id);
  if (typeof outcome === 'string') return outcome;
  await commitWritten(folder, [outcome]);
  return 'written';
}

/**
 * The file half of `writeNote`: the note's text swapped in (compare-and-swap
 * against its base), and the record and base that say so, not yet stored.
 * Notes at different paths may be written at once. Until the record is
 * stored, a restart finds the file holding exactly the document's text
 * (`record.hash`), and takes it as written (`local.ts`, `alreadyWritten`).
 */
export async function writeNoteFile(folder: Folder, id: string): Promise<Exclude<NoteWrite, 'written'> | WrittenNote> {
  const record = folder.index.get(id);
  if (!record || record.deleted || record.kind !== 'text') return 'gone';
  const note = await folder.notes.open(id);
  const text = noteText(note.doc);
  const hash = await hashText(folder, text);
  if (record.disk && record.disk.path === record.path && record.disk.hash === hash) return 'unchanged';
  if (record.disk && (await hashText(folder, note.base)) !== record.disk.hash) {
    // The stored base is not what the index says is on disk (it should be): take the disk's text if it is that.
    const bytes = await folder.files.read(record.disk.path);
    const onDisk = bytes ? decodeNote(bytes) : null;
    if (onDisk === null || (await hashText(folder, onDisk)) !== record.disk.hash) return 'changed-on-disk';
    note.base = onDisk;
  }
  const expected = record.disk ? ({ kind: 'text', text: note.base } as const) : ({ kind: 'absent' } as const);
  const path = record.disk?.path ?? record.path;
  if (!record.disk && claimedByAnother(folder, id, path)) return 'changed-on-disk';
  if (!(await folder.files.writeText(path, text, expected))) return 'changed-on-disk';
  const stat = await folder.files.stat(path);
  note.base = text;
  const size = encodeNote(text).length;
  return { record: { ...record, hash, size, disk: diskState(stat ?? { path, size, mtime: 0 }, hash) }, doc: { id, base: text } };
}

/** Stores written notes' records and bases in one batch. */
export function commitWritten(folder: Folder, written: readonly WrittenNote[]): Promise<void> {
  if (written.length === 0) return Promise.resolve();
  return folder.commit({ records: written.map((w) => w.record), docs: written.map((w) => w.doc) });
}

/**
 * Whether another record believes its file is at exactly `path`. Nothing is
 * written there until the watcher has said what became of that file (moved
 * elsewhere, deleted): writing first would lose the trail that pairs a move.
 */
export function claimedByAnother(folder: Folder, id: string, path: string): boolean {
  const other = folder.index.atDisk(path);
  return other !== undefined && other.id !== id && other.disk?.path === path;
}
