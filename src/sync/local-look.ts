import { atOnce } from './bounded';
import { MAX_NOTE_BYTES, decodeNote, hashOnDisk } from './disk';
import type { Folder } from './folder';
import { contentHash } from './hash';
import { NOTE_NOT_UTF8, NOTE_TOO_BIG, PATH_CASE, PATH_HIDDEN, PATH_SYNCTHING } from './messages';
import { unsafePathReason } from './paths';
import type { FileRecord, FileStat } from './ports';

/**
 * Looking at paths on disk for local.ts: what each one holds now, against
 * what the index says. Only reads: several paths are looked at at once
 * (each stat and read is a trip to the disk), and local.ts then decides in
 * path order what they mean.
 */

export interface Found {
  readonly stat: FileStat;
  readonly hash: string;
  /** For a note: its text. */
  readonly text: string | null;
}

/** What one path holds, against the record whose file is there (if any). */
export type Examined =
  | { readonly kind: 'skip' }
  /** Not synced, with the reason (listed until it changes). */
  | { readonly kind: 'report'; readonly reason: string }
  /** Still not synced for the reason already listed. */
  | { readonly kind: 'still-reported' }
  | { readonly kind: 'gone'; readonly record: FileRecord }
  | { readonly kind: 'found'; readonly record: FileRecord | undefined; readonly found: Found };

/** Paths looked at at once: a scan waits on the disk, not on the processor. */
export const LOOKS_AT_ONCE = 16;

const SKIP: Examined = { kind: 'skip' };
const SILENT = new Set([PATH_HIDDEN, PATH_SYNCTHING]);

/**
 * Looks at `paths` (sorted), LOOKS_AT_ONCE at a time. Reads only: the index is not changed.
 * @param readNotes read notes even when size and time did not change (a watcher event says something happened)
 * @param stats what a listing just said of some of these paths (those are not looked up again)
 */
export function examineAll(folder: Folder, paths: readonly string[], readNotes: boolean, stats?: ReadonlyMap<string, FileStat>): Promise<Examined[]> {
  return atOnce(paths, LOOKS_AT_ONCE, (path) => examine(folder, path, readNotes, stats?.get(path)));
}

async function examine(folder: Folder, path: string, readNotes: boolean, listed: FileStat | undefined): Promise<Examined> {
  const unsafe = unsafePathReason(path);
  if (unsafe) {
    // Hidden files are skipped quietly (the config folder, .git, .DS_Store); other names are listed as not synced.
    return !SILENT.has(unsafe) && (await folder.files.stat(path)) ? { kind: 'report', reason: unsafe } : SKIP;
  }
  if (folder.filter.excludedReason(path)) return SKIP;
  const stat = listed ?? (await folder.files.stat(path));
  const record = folder.index.atDisk(path);
  if (stat && folder.filter.excludedReason(path, stat.size)) return SKIP;
  if (record && record.disk!.path !== path) {
    // Another file of this name in another case: the other devices could not keep both.
    return stat ? { kind: 'report', reason: PATH_CASE(record.disk!.path) } : SKIP;
  }
  if (!stat) return record ? { kind: 'gone', record } : SKIP;
  const same = record !== undefined && record.disk!.size === stat.size && record.disk!.mtime === stat.mtime;
  if (record && !readNotes && same) return SKIP;
  if (record?.kind === 'text' && stat.size > MAX_NOTE_BYTES) {
    // A note that grew past the limit stays a note (its id and history are a note's): it is left alone, and the
    // record keeps its last synced version, until the file is small enough again.
    return same ? { kind: 'still-reported' } : { kind: 'report', reason: NOTE_TOO_BIG };
  }
  if (record?.kind === 'blob' && same) return SKIP;
  const found = await look(folder, stat, record?.kind);
  if (!found) return SKIP;
  if (record?.kind === 'text' && found.text === null) {
    // Not text any more (another program wrote bytes that are not UTF-8): a note cannot hold it, and decoding it
    // lossily would never match the disk again. Left alone, with the last synced version kept, until it is text.
    return { kind: 'report', reason: NOTE_NOT_UTF8 };
  }
  return { kind: 'found', record, found };
}

async function look(folder: Folder, stat: FileStat, kind: FileRecord['kind'] | undefined): Promise<Found | null> {
  const maybeNote = kind === 'text' || (kind === undefined && folder.filter.isNoteName(stat.path) && stat.size <= MAX_NOTE_BYTES);
  if (maybeNote) {
    const bytes = await folder.files.read(stat.path);
    if (!bytes) return null;
    const text = decodeNote(bytes);
    const hash = await contentHash(bytes, folder.options.sha256);
    return { stat: { ...stat, size: bytes.length }, hash, text };
  }
  const hash = await hashOnDisk(folder, stat);
  return hash === null ? null : { stat, hash, text: null };
}

export function kindFor(folder: Folder, found: Found): FileRecord['kind'] {
  return found.text !== null && folder.filter.isNoteName(found.stat.path) ? 'text' : 'blob';
}

/**
 * The record a file found on disk already is, though the index does not say
 * it is on disk there: the file holds exactly the record's content, at its
 * path. That is a write the writer made just before a kill, whose record
 * was not stored yet (notes are written in groups and stored after, see
 * writer.ts `placeNotes`), or another program that put the same content
 * there. Taken as written, not as an edit made here.
 */
export function alreadyWritten(folder: Folder, path: string, record: FileRecord | undefined, found: Found): FileRecord | null {
  const candidate = record ?? folder.index.liveAt(path).find((r) => r.path === path && r.disk === null);
  if (!candidate || candidate.deleted || candidate.path !== path || candidate.hash !== found.hash) return null;
  // A record whose file is there was looked at as its kind; a file new to the index must be of the candidate's kind.
  if ((record === undefined && candidate.kind !== kindFor(folder, found)) || (candidate.kind === 'text' && found.text === null)) return null;
  return candidate;
}
