import * as Y from 'yjs';
import { settleCollisions } from './collisions';
import { diskState, hashText, writeNote } from './disk';
import type { Folder } from './folder';
import { alreadyWritten, examineAll, kindFor, type Found } from './local-look';
import { notSynced } from './messages';
import { COMPACT_AFTER } from './note-cache';
import { enrollmentUpdate, ingestDiskText, noteText } from './notes';
import { lastName, pathKey } from './paths';
import { textHunks } from './text-diff';
import type { DocWrite, FileChange, FileRecord, FileStat } from './ports';
import { conflictCopy, metaOf } from './rules';
import { GENESIS, bumpVersion, deriveId } from './versions';
import type { DocUpdate } from './wire';

/**
 * Changes found on this device's disk → the index and the notes. The watcher
 * gives hints (paths); this module looks at each path and decides: created,
 * modified, deleted, or moved (a delete and a create of the same content in
 * one batch, or a rename the host reported). A note's change is a diff of its
 * base → disk, merged three ways if a peer's change has not reached the disk
 * yet.
 */

/** Takes a batch of watcher events in. Runs inside a folder task. */
export async function ingestChanges(folder: Folder, changes: readonly FileChange[]): Promise<FileRecord[]> {
  folder.options.trace?.('events', changes);
  if (changes.some((c) => c.type === 'rescan')) return scanFolder(folder, false);
  const paths = new Set<string>();
  const hints = new Map<string, string>();
  for (const change of changes) {
    if (change.type === 'rescan') continue;
    paths.add(change.path);
    if (change.type === 'renamed') {
      paths.add(change.from);
      hints.set(change.path, change.from);
    }
  }
  const files = new Set<string>();
  for (const path of paths) {
    // A file the index or the not-synced list knows (deleted now, or not), or a file on disk.
    if (folder.index.atDisk(path) || folder.notSyncedNow.has(path) || (await folder.files.stat(path))) {
      files.add(path);
      continue;
    }
    // Not a file: a folder that went away, or one that appeared (a watcher may report only the folder).
    for (const record of folder.index.underDisk(path)) files.add(record.disk!.path);
    for (const listed of folder.notSyncedNow) if (listed.startsWith(`${path}/`)) files.add(listed);
    const listed = await folder.files.list({ skipFolder: (f) => folder.filter.skipsFolder(f) });
    for (const stat of listed) if (stat.path.startsWith(`${path}/`)) files.add(stat.path);
  }
  return ingestPaths(folder, files, hints, { readNotes: true, genesis: false });
}

/**
 * Compares the whole folder with the index (at start, and when the watcher
 * may have missed events). `genesis`: the first scan of a new store, whose
 * files are enrolled as history every device shares (no version, time 0), so
 * two devices holding the same file agree on its record without a word.
 */
export async function scanFolder(folder: Folder, genesis: boolean): Promise<FileRecord[]> {
  const listed = await folder.files.list({ skipFolder: (f) => folder.filter.skipsFolder(f) });
  const paths = new Set<string>();
  const onDisk = new Set<string>();
  for (const stat of listed) {
    onDisk.add(pathKey(stat.path));
    const record = folder.index.atDisk(stat.path);
    if (!record || record.disk!.path !== stat.path || record.disk!.size !== stat.size || record.disk!.mtime !== stat.mtime) paths.add(stat.path);
  }
  for (const record of folder.index.values()) if (record.disk && !onDisk.has(pathKey(record.disk.path))) paths.add(record.disk.path);
  // Files listed as not synced are looked at again (the list is rebuilt): gone ones leave it.
  for (const path of folder.notSyncedNow) paths.add(path);
  // The listing's sizes and times are as fresh as a stat of each path would be: each path is not looked up again.
  const stats = new Map(listed.map((stat) => [stat.path, stat]));
  return ingestPaths(folder, paths, new Map(), { readNotes: false, genesis, stats });
}

/** Files changed at a time before the index is committed, so a big scan never holds everything at once. */
const BATCH = 256;

interface Mode {
  /** Read notes even when size and time did not change (a watcher event says something happened). */
  readonly readNotes: boolean;
  readonly genesis: boolean;
  /** What a listing just said of these paths' files (a path not in it is looked at). */
  readonly stats?: ReadonlyMap<string, FileStat>;
}

async function ingestPaths(folder: Folder, paths: ReadonlySet<string>, hints: ReadonlyMap<string, string>, mode: Mode): Promise<FileRecord[]> {
  const created = new Map<string, Found>();
  const modified: { record: FileRecord; found: Found }[] = [];
  const deleted = new Map<string, FileRecord>();
  const reported = new Set<string>();
  /** Records whose file is there as they say, with a new time, or written before a kill (see `alreadyWritten`). */
  const onDisk: { record: FileRecord; found: Found }[] = [];
  const sorted = [...paths].sort();
  // Read at once, decided one path after another, in order.
  const examined = await examineAll(folder, sorted, mode.readNotes, mode.stats);
  for (const [i, path] of sorted.entries()) {
    const seen = examined[i]!;
    if (seen.kind === 'report') {
      reported.add(path);
      folder.notSynced(path, notSynced(path, seen.reason));
    } else if (seen.kind === 'still-reported') {
      reported.add(path);
    } else if (seen.kind === 'gone') {
      deleted.set(path, seen.record);
    } else if (seen.kind === 'found') {
      const { record, found } = seen;
      const written = record?.disk!.hash === found.hash ? null : alreadyWritten(folder, path, record, found);
      if (written) onDisk.push({ record: written, found });
      else if (!record) created.set(path, found);
      else if (found.hash !== record.disk!.hash) modified.push({ record, found });
      else if (record.disk!.mtime !== found.stat.mtime) onDisk.push({ record, found });
    }
  }
  await takeAsOnDisk(folder, onDisk);

  // A path whose file was moved away and another file moved in within one batch (a folder moved, then a note
  // moved into the name it left): its "new content" is the other file's, so its occupant left and the other arrived.
  for (let i = modified.length - 1; i >= 0; i -= 1) {
    const { record, found } = modified[i]!;
    const arrived = [...deleted.values()].some((d) => d.id !== record.id && d.disk!.hash === found.hash);
    if (!arrived) continue;
    modified.splice(i, 1);
    deleted.set(record.disk!.path, record);
    created.set(found.stat.path, found);
  }

  // A path looked at and not reported again syncs now, or is gone: an earlier reason no longer holds.
  for (const path of paths) if (!reported.has(path)) folder.nowSynced(path);

  const work: Work = { records: [], docs: [], push: [], writeBack: [], mode };
  folder.options.trace?.('ingest', {
    paths: [...paths],
    created: [...created].map(([p, f]) => `${p} ${f.hash.slice(0, 6)}`),
    deleted: [...deleted].map(([p, r]) => `${p} ${r.id.slice(0, 6)} disk ${r.disk!.hash.slice(0, 6)} doc ${r.hash.slice(0, 6)}`),
    modified: modified.map((m) => m.record.disk!.path),
    hints: [...hints],
  });
  // Moves: what the host reported, then deletes and creates of equal content.
  for (const [to, from] of hints) {
    const record = deleted.get(from);
    const found = created.get(to);
    if (!record || !found) continue;
    deleted.delete(from);
    created.delete(to);
    await move(folder, work, record, found);
  }
  for (const [to, found] of created) {
    const record = [...deleted.values()].find((r) => r.disk!.hash === found.hash && r.kind === kindFor(folder, found));
    if (!record) continue;
    deleted.delete(record.disk!.path);
    created.delete(to);
    await move(folder, work, record, found);
  }
  await pairEditedMoves(folder, work, created, deleted);
  for (const { record, found } of modified) await modify(folder, work, record, found);
  for (const record of deleted.values()) remove(folder, work, record);
  for (const found of created.values()) {
    await create(folder, work, found);
    if (work.records.length >= BATCH) await flush(folder, work);
  }
  return flush(folder, work);
}

/**
 * Records whose file is what they say, stored in one batch with no change to
 * sync: a file with a new time only, or one the writer put there before a
 * kill, before its record was stored (its base is then the file's text).
 */
async function takeAsOnDisk(folder: Folder, onDisk: readonly { record: FileRecord; found: Found }[]): Promise<void> {
  if (onDisk.length === 0) return;
  const docs: DocWrite[] = [];
  for (const { record, found } of onDisk) {
    if (record.kind !== 'text' || found.text === null || record.disk?.hash === found.hash) continue;
    // Reloaded from the store after this commit, with the new base.
    folder.notes.drop(record.id);
    docs.push({ id: record.id, base: found.text });
  }
  await folder.commit({ records: onDisk.map(({ record, found }) => ({ ...record, disk: diskState(found.stat, found.hash) })), docs });
}

/**
 * A note moved and edited within one batch (a Node watcher reports a delete
 * and a create with different content) is still a move: paired with the
 * deleted note whose base text it resembles most (over half unchanged; the
 * same file name counts for a quarter), so the edit is ingested as an edit
 * and no text is duplicated under a new id.
 */
async function pairEditedMoves(folder: Folder, work: Work, created: Map<string, Found>, deleted: Map<string, FileRecord>): Promise<void> {
  const notes = [...deleted.values()].filter((r) => r.kind === 'text');
  if (notes.length === 0) return;
  const compareAll = notes.length * created.size <= 2_000;
  for (const [to, found] of [...created]) {
    if (found.text === null || kindFor(folder, found) !== 'text') continue;
    let best: FileRecord | null = null;
    let bestScore = 0.5;
    for (const record of notes) {
      if (!deleted.has(record.disk!.path)) continue;
      const sameName = lastName(record.disk!.path) === lastName(to);
      if (!compareAll && !sameName) continue;
      const score = similarity((await folder.notes.open(record.id)).base, found.text) + (sameName ? 0.25 : 0);
      if (score > bestScore) [best, bestScore] = [record, score];
    }
    if (!best) continue;
    deleted.delete(best.disk!.path);
    created.delete(to);
    await move(folder, work, best, found);
  }
}

/** How much of two texts is unchanged between them, from 0 to 1. */
function similarity(a: string, b: string): number {
  const longest = Math.max(a.length, b.length);
  if (longest === 0) return 1;
  const changed = textHunks(a, b).reduce((n, h) => n + Math.max(h.end - h.start, h.insert.length), 0);
  return 1 - changed / longest;
}

interface Work {
  readonly mode: Mode;
  records: FileRecord[];
  docs: DocWrite[];
  push: DocUpdate[];
  writeBack: string[];
}

async function flush(folder: Folder, work: Work): Promise<FileRecord[]> {
  const records = work.records.splice(0);
  const writeBack = work.writeBack.splice(0);
  if (records.length === 0) return [];
  await folder.commit({ records, docs: work.docs.splice(0), push: work.push.splice(0) });
  const settled = [...records, ...(await settleCollisions(folder, records, new Map()))];
  // A merged note holds more than the disk: write it back (re-reading the disk if it moved again).
  for (const id of writeBack) {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      if ((await writeNote(folder, id)) !== 'changed-on-disk') break;
      const path = folder.index.get(id)?.disk?.path;
      if (path) await ingestPaths(folder, new Set([path]), new Map(), { readNotes: true, genesis: false });
    }
  }
  return settled;
}

async function create(folder: Folder, work: Work, found: Found): Promise<void> {
  const path = found.stat.path;
  let id = deriveId('file', path, found.hash);
  const same = folder.index.get(id);
  if (same && !same.deleted && !same.disk && same.path === path) {
    // A peer's record of this very file (same path and content) that was not on disk yet: it is now.
    const adopted: FileRecord = { ...same, disk: diskState(found.stat, found.hash) };
    work.records.push(adopted.kind === 'text' ? await takeNote(folder, work, adopted, found.text ?? '', found.hash) : adopted);
    return;
  }
  if (same && !same.deleted) id = deriveId('file', path, found.hash, folder.replica, String(folder.seq));
  const old = folder.index.get(id);
  const seq = folder.nextSeq();
  const genesis = work.mode.genesis && !old;
  const stamp = genesis ? GENESIS : folder.stamp();
  let record: FileRecord = {
    id,
    path,
    kind: old?.kind ?? kindFor(folder, found),
    deleted: false,
    hash: found.hash,
    size: found.stat.size,
    changed: stamp,
    moved: stamp,
    version: genesis ? {} : bumpVersion(old?.version ?? {}, folder.replica, seq),
    lived: {},
    seq,
    sv: old?.sv ?? null,
    disk: diskState(found.stat, found.hash),
  };
  record = { ...record, lived: genesis ? {} : { [folder.replica]: seq } };
  if (record.kind === 'text') record = await takeNote(folder, work, record, found.text ?? '', found.hash, !old);
  work.records.push(record);
}

/** A note's text into its document: a seeded enrollment if the document is empty, else a diff (three-way if needed). */
async function takeNote(folder: Folder, work: Work, record: FileRecord, text: string, hash: string, isNew = false): Promise<FileRecord> {
  if (isNew) {
    // A note this device never had: its document is the enrollment update alone, no need to build it in memory.
    const update = enrollmentUpdate(text, hash);
    work.docs.push({ id: record.id, base: text, update });
    work.push.push({ id: record.id, update });
    return { ...record, hash, sv: Y.encodeStateVectorFromUpdate(update) };
  }
  const note = await folder.notes.open(record.id);
  const empty = Y.encodeStateVector(note.doc).length <= 1 && noteText(note.doc) === '';
  let update: Uint8Array | null;
  let merged = text;
  if (empty) {
    update = enrollmentUpdate(text, hash);
    Y.applyUpdate(note.doc, update);
  } else {
    const ingested = ingestDiskText(note.doc, note.base, text);
    update = ingested.update;
    merged = ingested.text;
    if (ingested.merged) folder.emit({ type: 'merged', path: record.path, peer: null });
  }
  note.base = text;
  if (update) note.storedUpdates += 1;
  const compact = update !== null && note.storedUpdates > COMPACT_AFTER;
  if (compact) note.storedUpdates = 1;
  // Past COMPACT_AFTER stored updates, the note's whole state replaces them (so loading it stays quick).
  work.docs.push({ id: record.id, base: text, ...(update ? { update: compact ? Y.encodeStateAsUpdate(note.doc) : update, replace: compact } : {}) });
  if (update) work.push.push({ id: record.id, update });
  if (merged !== text) work.writeBack.push(record.id);
  const docHash = merged === text ? hash : await hashText(folder, merged);
  return { ...record, hash: docHash, sv: Y.encodeStateVector(note.doc) };
}

async function modify(folder: Folder, work: Work, record: FileRecord, found: Found): Promise<void> {
  const seq = folder.nextSeq();
  let next: FileRecord = {
    ...record,
    deleted: false,
    hash: found.hash,
    size: found.stat.size,
    changed: folder.stamp(),
    version: bumpVersion(record.version, folder.replica, seq),
    seq,
    disk: diskState(found.stat, found.hash),
  };
  next = { ...next, lived: { [folder.replica]: seq } };
  if (record.kind === 'text') {
    next = await takeNote(folder, work, next, found.text ?? '', found.hash);
  } else if (!record.deleted && record.hash !== record.disk!.hash) {
    // A peer's version was on its way to this file when it changed here: keep that version too.
    const copy = conflictCopy(metaOf(record), record.path);
    if (!folder.index.get(copy.id)) {
      work.records.push({ ...copy, seq: folder.nextSeq(), sv: null, disk: null });
      folder.emit({ type: 'conflict', path: record.path, copy: copy.path, peer: null });
    }
  }
  work.records.push(next);
}

async function move(folder: Folder, work: Work, record: FileRecord, found: Found): Promise<void> {
  const seq = folder.nextSeq();
  const moved: FileRecord = {
    ...record,
    path: found.stat.path,
    moved: folder.stamp(),
    version: bumpVersion(record.version, folder.replica, seq),
    lived: { [folder.replica]: seq },
    seq,
    disk: { ...record.disk!, path: found.stat.path, mtime: found.stat.mtime, size: found.stat.size },
  };
  if (found.hash === record.disk!.hash) work.records.push(moved);
  else await modify(folder, work, moved, found);
}

function remove(folder: Folder, work: Work, record: FileRecord): void {
  if (record.deleted || record.hash !== record.disk!.hash) {
    // Already deleted here; or a peer's change to it was on its way to disk: a change beats a delete, so it
    // stays, and the writer puts it back.
    work.records.push({ ...record, disk: null });
    return;
  }
  const seq = folder.nextSeq();
  work.records.push({ ...record, deleted: true, version: bumpVersion(record.version, folder.replica, seq), seq, disk: null });
}
