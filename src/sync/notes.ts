import * as Y from 'yjs';
// eslint-disable-next-line import/no-extraneous-dependencies -- lib0 is Yjs's own encoding, installed with yjs at the version it needs
import * as encoding from 'lib0/encoding';
import { uint32OfHex } from './hash';
import { mergeThreeWay } from './text-merge';
import { textHunks } from './text-diff';
import { deriveId } from './versions';

/**
 * A note's Yjs document: the text lives in `getText('t')`. Every change to it
 * goes through here, as minimal edits.
 */

const TEXT = 't';
/** Transaction origin of changes read from this device's disk. */
export const LOCAL_ORIGIN = 'disk';
/** Transaction origin of updates from a peer. */
export const REMOTE_ORIGIN = 'peer';

export function noteText(doc: Y.Doc): string {
  return doc.getText(TEXT).toJSON();
}

/**
 * The update that creates a note holding `text`, the same on every device:
 * one insert by a client id derived from the content. Two devices that
 * enroll the same note produce byte-identical updates, and merging them
 * changes nothing (independent inserts would duplicate the text).
 */
export function enrollmentUpdate(text: string, contentHash: string): Uint8Array {
  // Written out rather than produced by a Y.Doc (which costs two calls to the system's random source):
  // Yjs's update format for one client that inserted one string at the start of root text 't'.
  // spec/sync/notes.spec.ts checks it byte for byte against Yjs's own encoding.
  if (text.length === 0) return new Uint8Array([0, 0]);
  return encoding.encode((e) => {
    encoding.writeVarUint(e, 1); // clients
    encoding.writeVarUint(e, 1); // structs of that client
    encoding.writeVarUint(e, uint32OfHex(contentHash));
    encoding.writeVarUint(e, 0); // first clock
    encoding.writeUint8(e, 4); // an item holding a string, with no origins...
    encoding.writeVarUint(e, 1); // ...whose parent is a root type...
    encoding.writeVarString(e, TEXT); // ...named 't'
    encoding.writeVarString(e, text);
    encoding.writeVarUint(e, 0); // no deletions
  });
}

/**
 * This device's Yjs client id for one note: stable across loads so a note's
 * state vector does not grow an entry per session, and distinct per replica
 * (a rebuilt store is a new replica). Safe because the store commits every
 * local update before it is sent (if one were ever lost, Yjs sees its own id
 * come back and picks a new one).
 */
export function clientIdFor(replica: string, id: string): number {
  return uint32OfHex(deriveId('client', replica, id));
}

/**
 * Moves the document's text to `to` with minimal edits.
 * @returns the update that did it, or null when the text was already `to`
 */
export function editText(doc: Y.Doc, to: string): Uint8Array | null {
  const text = doc.getText(TEXT);
  const from = text.toJSON();
  if (from === to) return null;
  const before = Y.encodeStateVector(doc);
  const hunks = textHunks(from, to);
  doc.transact(() => {
    for (let i = hunks.length - 1; i >= 0; i -= 1) {
      const hunk = hunks[i]!;
      if (hunk.end > hunk.start) text.delete(hunk.start, hunk.end - hunk.start);
      if (hunk.insert) text.insert(hunk.start, hunk.insert);
    }
  }, LOCAL_ORIGIN);
  return Y.encodeStateAsUpdate(doc, before);
}

export interface Ingested {
  /** The text the document now holds, and that disk should hold. */
  readonly text: string;
  /** The update to store and send, or null if the document did not change. */
  readonly update: Uint8Array | null;
  /** The disk edit met remote changes not on disk yet: merged three ways. */
  readonly merged: boolean;
}

/**
 * Takes a text read from disk into the document. The change is base → disk;
 * if the document moved on since the base (a remote change not yet on disk),
 * base, disk and document are merged three ways first, so neither the disk
 * edit nor the remote one is lost.
 */
export function ingestDiskText(doc: Y.Doc, base: string, disk: string): Ingested {
  const head = noteText(doc);
  const text = head === base ? disk : mergeThreeWay(base, disk, head).text;
  return { text, update: editText(doc, text), merged: head !== base && disk !== base && disk !== head };
}

/**
 * Whether bytes are a Yjs update this engine can apply: it decodes, and it
 * touches nothing but the note's text. Checked before the update reaches a
 * real document, so a damaged or hostile one changes nothing.
 */
export function isValidUpdate(update: Uint8Array): boolean {
  try {
    const decoded = Y.decodeUpdate(update);
    for (const struct of decoded.structs) {
      if (struct instanceof Y.Item && struct.parent !== null && typeof struct.parent === 'string' && struct.parent !== TEXT) return false;
    }
    // A guid given: Yjs would otherwise draw a random UUID (31 calls to the system's random source) for every check.
    const probe = new Y.Doc({ guid: 'validate' });
    Y.applyUpdate(probe, update);
    const strayRoot = [...probe.share.keys()].some((key) => key !== TEXT);
    probe.destroy();
    return !strayRoot;
  } catch {
    return false;
  }
}

export interface Applied {
  readonly changed: boolean;
  /** The document held changes the update's author lacked, and the update brought ones it lacked: a merge of concurrent edits. */
  readonly concurrent: boolean;
}

/** Applies a (validated) update from a peer. `authorSv` is the peer's state vector, when known, to tell a merge from a fast-forward. */
export function applyRemoteUpdate(doc: Y.Doc, update: Uint8Array, authorSv: Uint8Array | null): Applied {
  const before = Y.encodeStateVector(doc);
  Y.applyUpdate(doc, update, REMOTE_ORIGIN);
  const after = Y.encodeStateVector(doc);
  const changed = !bytesEqual(before, after);
  const concurrent = changed && authorSv !== null && lacks(authorSv, before);
  return { changed, concurrent };
}

/** Whether a document at state vector `mine` lacks something one at `theirs` has. */
export function lacks(mine: Uint8Array | null, theirs: Uint8Array | null): boolean {
  if (!theirs || theirs.length === 0) return false;
  const have = mine && mine.length > 0 ? Y.decodeStateVector(mine) : new Map<number, number>();
  for (const [client, clock] of Y.decodeStateVector(theirs)) {
    if ((have.get(client) ?? 0) < clock) return true;
  }
  return false;
}

/** Whether bytes are a state vector Yjs can read (an empty one counts). */
export function isValidStateVector(sv: Uint8Array): boolean {
  if (sv.length === 0) return true;
  try {
    Y.decodeStateVector(sv);
    return true;
  } catch {
    return false;
  }
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

export const EMPTY_SV: Uint8Array = Y.encodeStateVector(new Y.Doc());
