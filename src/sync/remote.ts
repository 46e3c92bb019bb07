import * as Y from 'yjs';
import { settleCollisions } from './collisions';
import { hashText } from './disk';
import type { Folder } from './folder';
import { REFUSED_UPDATE } from './messages';
import { COMPACT_AFTER } from './note-cache';
import { EMPTY_SV, applyRemoteUpdate, bytesEqual, isValidUpdate, lacks, noteText } from './notes';
import type { DocWrite, FileRecord } from './ports';
import type { Entry } from './records-codec';
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

/**
 * Applies a batch of a peer's index entries. Runs inside a folder task.
 * @returns the notes whose content the peer has and this device lacks
 */
export async function receiveEntries(folder: Folder, peer: string, entries: readonly Entry[]): Promise<DocWant[]> {
  const records: FileRecord[] = [];
  const wants: DocWant[] = [];
  const echoes = new Set<string>();
  const announced = new Map<string, string>();
  for (const entry of entries) {
    const local = folder.index.get(entry.id);
    const incoming: Meta = metaOf(entry);
    if (entry.kind === 'text') announced.set(entry.id, entry.hash);
    if (!local) {
      records.push({ ...incoming, hash: entry.kind === 'text' ? '' : entry.hash, seq: folder.nextSeq(), sv: null, disk: null });
      if (entry.kind === 'text' && lacks(null, entry.sv)) wants.push({ id: entry.id, sv: EMPTY_SV });
      // Taken as it came: the peer has it already.
      echoes.add(entry.id);
      continue;
    }
    if (local.kind !== entry.kind) continue;
    const { meta, copy } = resolve(metaOf(local), incoming);
    const kept: Meta = local.kind === 'text' ? { ...meta, hash: local.hash, size: local.size } : meta;
    if (!sameMeta(kept, metaOf(local))) {
      records.push({ ...local, ...kept, seq: folder.nextSeq() });
      if (sameMeta(kept, incoming) && (local.kind === 'blob' || bytesEqual(local.sv ?? EMPTY_SV, entry.sv ?? EMPTY_SV))) echoes.add(local.id);
    }
    if (copy && !folder.index.get(copy.id) && !records.some((r) => r.id === copy.id)) {
      records.push({ ...copy, seq: folder.nextSeq(), sv: null, disk: null });
      folder.emit({ type: 'conflict', path: meta.path, copy: copy.path, peer });
    }
    if (local.kind === 'text' && lacks(local.sv, entry.sv)) wants.push({ id: entry.id, sv: local.sv ?? EMPTY_SV });
  }
  if (records.length > 0) {
    await folder.commit({ records, origin: peer, echoes });
    const settled = await settleCollisions(folder, records, announced);
    await materialize(folder, [...records.map((r) => r.id), ...settled.map((r) => r.id)]);
  }
  return wants;
}

/**
 * Merges a peer's note updates into the documents, stores them, and writes
 * the notes out. A damaged update refuses the peer before anything changes.
 * @param authorSvs the peer's state vector per note, when known (tells a merge of concurrent edits from a catch-up)
 */
export async function receiveDocs(folder: Folder, peer: string, docs: readonly DocUpdate[], authorSvs: ReadonlyMap<string, Uint8Array>): Promise<void> {
  for (const doc of docs) {
    const record = folder.index.get(doc.id);
    if (record?.kind === 'text' && !isValidUpdate(doc.update)) throw new SyncRefusal(REFUSED_UPDATE(record.path));
  }
  const records: FileRecord[] = [];
  const writes: DocWrite[] = [];
  const push: DocUpdate[] = [];
  const echoes = new Set<string>();
  for (const doc of docs) {
    const record = folder.index.get(doc.id);
    if (record?.kind !== 'text') continue;
    const note = await folder.notes.open(doc.id);
    const applied = applyRemoteUpdate(note.doc, doc.update, authorSvs.get(doc.id) ?? null);
    if (!applied.changed) continue;
    const text = noteText(note.doc);
    note.storedUpdates += 1;
    if (note.storedUpdates > COMPACT_AFTER) {
      writes.push({ id: doc.id, update: Y.encodeStateAsUpdate(note.doc), replace: true });
      note.storedUpdates = 1;
    } else {
      writes.push({ id: doc.id, update: doc.update });
    }
    push.push(doc);
    const sv = Y.encodeStateVector(note.doc);
    const authorSv = authorSvs.get(doc.id);
    // Now exactly what the peer has: no need to tell it.
    if (authorSv && bytesEqual(sv, authorSv)) echoes.add(doc.id);
    records.push({ ...record, hash: await hashText(folder, text), size: new TextEncoder().encode(text).length, sv, seq: folder.nextSeq() });
    if (applied.concurrent && !record.deleted) folder.emit({ type: 'merged', path: record.path, peer });
  }
  if (records.length === 0) return;
  await folder.commit({ records, docs: writes, push, origin: peer, echoes });
  await materialize(folder, records.map((r) => r.id));
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
