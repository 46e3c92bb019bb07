import * as Y from 'yjs';
import { settleCollisions } from './collisions';
import { hashText } from './disk';
import type { Folder } from './folder';
import { REFUSED_UPDATE } from './messages';
import { COMPACT_AFTER } from './note-cache';
import { EMPTY_SV, applyRemoteUpdate, bytesEqual, isValidUpdate, lacks, noteText } from './notes';
import type { DocWrite, FileRecord } from './ports';
import type { Entry } from './records-codec';
import { conflictOriginal } from './paths';
import { SyncRefusal } from './refusal';
import { metaOf, resolve, sameMeta, type Meta } from './rules';
import type { DocUpdate } from './wire';
import { materialize } from './writer';

/**
 * A peer's changes → this device: index entries resolved against the local
 * records by the merge rules, note updates merged into the documents, then
 * the disk brought in line. Entries arrive already checked by the session
 * (safe paths, well-formed); this module decides what they mean.
 */

export interface DocWant {
  readonly id: string;
  /** This device's state vector for the note: the peer sends what is newer. */
  readonly sv: Uint8Array;
}

/** Records changed by one batch, committed together. */
interface Batch {
  readonly records: FileRecord[];
  readonly echoes: Set<string>;
  readonly announced: Map<string, string>;
  /** Attachments whose file on disk is still what the index says (size and time checked): only those may be kept as a conflict copy. */
  readonly onDisk?: ReadonlySet<string>;
}

/**
 * Applies a batch of a peer's index entries. Runs inside a folder task. A
 * note whose content the peer has and this device lacks is not applied yet:
 * its entry waits (in the session) for the content, so this device's record
 * never claims a version whose text it does not hold. A delete made here
 * meanwhile then still meets the peer's edit as concurrent, and the edit wins.
 * @returns the notes to ask the peer for
 */
export async function receiveEntries(folder: Folder, peer: string, entries: readonly Entry[]): Promise<DocWant[]> {
  const batch: Batch = { records: [], echoes: new Set(), announced: new Map(), onDisk: await attachmentsOnDisk(folder, entries) };
  const wants: DocWant[] = [];
  for (const entry of entries) {
    const local = folder.index.get(entry.id);
    if (local && local.kind !== entry.kind) continue;
    if (entry.kind === 'text' && !entry.deleted && lacks(local?.sv ?? null, entry.sv)) {
      wants.push({ id: entry.id, sv: local?.sv ?? EMPTY_SV });
      continue;
    }
    applyEntry(folder, peer, entry, batch);
  }
  await commitBatch(folder, peer, batch, []);
  return wants;
}

/** Resolves one entry against the local record into `batch`. */
function applyEntry(folder: Folder, peer: string, entry: Entry, batch: Batch, content?: { hash: string; size: number; sv: Uint8Array }): void {
  const local = batch.records.find((r) => r.id === entry.id) ?? folder.index.get(entry.id);
  const incoming: Meta = metaOf(entry);
  if (entry.kind === 'text') batch.announced.set(entry.id, entry.hash);
  const mine = (record: FileRecord): FileRecord => (content ? { ...record, ...content } : record);
  if (!local) {
    batch.records.push(mine({ ...incoming, hash: entry.kind === 'text' ? '' : entry.hash, seq: folder.nextSeq(), sv: null, disk: null }));
    // Taken as it came: the peer has it already.
    batch.echoes.add(entry.id);
    // A conflict copy the peer made: this device's activity log and conflicts list learn of it too.
    const original = entry.deleted ? null : conflictOriginal(entry.path);
    if (original !== null) folder.emit({ type: 'conflict', path: original, copy: entry.path, peer });
    return;
  }
  const { meta, copy } = resolve(metaOf(local), incoming);
  const kept: Meta = local.kind === 'text' ? { ...meta, hash: local.hash, size: local.size } : meta;
  if (!sameMeta(kept, metaOf(local)) || content) {
    const next = mine({ ...local, ...kept, seq: folder.nextSeq() });
    batch.records.splice(0, batch.records.length, ...batch.records.filter((r) => r.id !== next.id), next);
    if (sameMeta(kept, incoming) && (local.kind === 'blob' || bytesEqual(next.sv ?? EMPTY_SV, entry.sv ?? EMPTY_SV))) batch.echoes.add(local.id);
  }
  // Like Syncthing, the device whose disk holds the losing content keeps it as the copy: a device that never
  // had that version does not ask for it (it may be gone everywhere by now); the one that has it sends it.
  if (copy && local.disk?.hash === copy.hash && batch.onDisk?.has(local.id) && !folder.index.get(copy.id) && !batch.records.some((r) => r.id === copy.id)) {
    // First in the batch: the writer copies the losing content aside before anything may overwrite it.
    batch.records.unshift({ ...copy, seq: folder.nextSeq(), sv: null, disk: null });
    folder.emit({ type: 'conflict', path: meta.path, copy: copy.path, peer });
  }
}

/**
 * Of the local attachments these entries concern, those whose file is still
 * what the index says (its size and time unchanged). A file changed since is
 * a local edit the watcher is about to report; its version is resolved then.
 */
async function attachmentsOnDisk(folder: Folder, entries: readonly Entry[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (const entry of entries) {
    const local = folder.index.get(entry.id);
    if (entry.kind !== 'blob' || !local?.disk || local.deleted || local.disk.hash === entry.hash) continue;
    const stat = await folder.files.stat(local.disk.path);
    if (stat && stat.size === local.disk.size && stat.mtime === local.disk.mtime) found.add(local.id);
  }
  return found;
}

async function commitBatch(folder: Folder, peer: string, batch: Batch, docs: readonly DocWrite[], push: readonly DocUpdate[] = []): Promise<void> {
  if (batch.records.length === 0) return;
  await folder.commit({ records: batch.records, docs, push, origin: peer, echoes: batch.echoes });
  const settled = await settleCollisions(folder, batch.records, batch.announced, peer);
  await materialize(folder, [...batch.records.map((r) => r.id), ...settled.map((r) => r.id)]);
}

/**
 * Merges a peer's note updates into the documents, applies the entries that
 * waited for them, stores both, and writes the notes out. A damaged update
 * refuses the peer before anything changes.
 * @param waiting the peer's entries that waited for this content, by id (their state vectors also tell a merge of concurrent edits from a catch-up)
 */
export async function receiveDocs(folder: Folder, peer: string, docs: readonly DocUpdate[], waiting: ReadonlyMap<string, Entry>): Promise<DocWant[]> {
  for (const doc of docs) {
    const kind = folder.index.get(doc.id)?.kind ?? waiting.get(doc.id)?.kind;
    const path = folder.index.get(doc.id)?.path ?? waiting.get(doc.id)?.path ?? doc.id;
    if (kind === 'text' && doc.update.length > 2 && !isValidUpdate(doc.update)) throw new SyncRefusal(REFUSED_UPDATE(path));
  }
  const batch: Batch = { records: [], echoes: new Set(), announced: new Map() };
  const writes: DocWrite[] = [];
  const push: DocUpdate[] = [];
  const stillLacking: DocWant[] = [];
  for (const doc of docs) {
    const entry = waiting.get(doc.id);
    const record = folder.index.get(doc.id);
    if ((record?.kind ?? entry?.kind) !== 'text') continue;
    const note = await folder.notes.open(doc.id);
    const applied = applyRemoteUpdate(note.doc, doc.update, entry?.sv ?? null);
    const text = noteText(note.doc);
    const content = { hash: await hashText(folder, text), size: new TextEncoder().encode(text).length, sv: Y.encodeStateVector(note.doc) };
    if (entry && lacks(content.sv, entry.sv) && doc.update.length > 2) {
      // A pushed update that builds on something this device lacks (Yjs holds it pending): ask for the rest.
      stillLacking.push({ id: doc.id, sv: content.sv });
      if (applied.changed) writes.push({ id: doc.id, update: doc.update });
      continue;
    }
    if (applied.changed) {
      note.storedUpdates += 1;
      if (note.storedUpdates > COMPACT_AFTER) {
        writes.push({ id: doc.id, update: Y.encodeStateAsUpdate(note.doc), replace: true });
        note.storedUpdates = 1;
      } else {
        writes.push({ id: doc.id, update: doc.update });
      }
      push.push(doc);
    }
    if (entry) applyEntry(folder, peer, entry, batch, content);
    else if (applied.changed && record) batch.records.push({ ...record, ...content, seq: folder.nextSeq() });
    const now = batch.records.find((r) => r.id === doc.id);
    // Now exactly what the peer has: no need to tell it.
    if (now && entry?.sv && bytesEqual(content.sv, entry.sv) && sameMeta(metaOf(now), { ...metaOf(entry), hash: now.hash, size: now.size })) batch.echoes.add(doc.id);
    if (applied.concurrent && now && !now.deleted) folder.emit({ type: 'merged', path: now.path, peer });
  }
  if (writes.length > 0 && batch.records.length === 0) await folder.commit({ docs: writes, push, origin: peer });
  else await commitBatch(folder, peer, batch, writes, push);
  return stillLacking;
}

/** What the peer lacks of each note it asked for. */
export async function serveDocs(folder: Folder, wants: readonly DocWant[]): Promise<DocUpdate[]> {
  const docs: DocUpdate[] = [];
  for (const want of wants) {
    if (folder.index.get(want.id)?.kind !== 'text') continue;
    const update = await folder.notes.missingFor(want.id, want.sv);
    if (update && update.length > 2) docs.push({ id: want.id, update });
  }
  return docs;
}
