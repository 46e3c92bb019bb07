// eslint-disable-next-line import/no-extraneous-dependencies -- lib0 is Yjs's own encoding, installed with yjs at the version it needs
import * as decoding from 'lib0/decoding';
// eslint-disable-next-line import/no-extraneous-dependencies -- as above
import * as encoding from 'lib0/encoding';
import { fromHex, toHex } from '../core/bytes';
import type { DiskState, FileRecord, PeerMark, Stamp, VersionVector } from './ports';

/**
 * Binary form of index entries (on the wire) and of whole records (for a
 * store that wants bytes: a file store's log). lib0 encoding, like Yjs.
 * Decoding throws on anything malformed; callers treat that as a damaged
 * frame or record.
 */

/** A record as a peer sends it: everything but what this device's disk holds. */
export type Entry = Omit<FileRecord, 'disk'>;

const FLAG_TEXT = 1;
const FLAG_DELETED = 2;
const FLAG_DISK = 4;
const MAX_VERSION_ENTRIES = 256;
const MAX_SV_BYTES = 64 * 1024;

export function writeEntry(encoder: encoding.Encoder, entry: Entry, disk: DiskState | null = null): void {
  encoding.writeUint8Array(encoder, idBytes(entry.id));
  encoding.writeVarString(encoder, entry.path);
  encoding.writeUint8(encoder, (entry.kind === 'text' ? FLAG_TEXT : 0) | (entry.deleted ? FLAG_DELETED : 0) | (disk ? FLAG_DISK : 0));
  encoding.writeVarUint8Array(encoder, hashBytes(entry.hash));
  encoding.writeVarUint(encoder, entry.size);
  writeStamp(encoder, entry.changed);
  writeStamp(encoder, entry.moved);
  writeVersion(encoder, entry.version);
  writeVersion(encoder, entry.lived);
  encoding.writeVarUint(encoder, entry.seq);
  if (entry.kind === 'text') encoding.writeVarUint8Array(encoder, entry.sv ?? new Uint8Array(0));
  if (disk) {
    encoding.writeVarString(encoder, disk.path);
    encoding.writeVarUint8Array(encoder, hashBytes(disk.hash));
    encoding.writeVarUint(encoder, disk.size);
    encoding.writeFloat64(encoder, disk.mtime);
  }
}

export function readEntry(decoder: decoding.Decoder): { entry: Entry; disk: DiskState | null } {
  const id = toHex(decoding.readUint8Array(decoder, 16));
  const path = decoding.readVarString(decoder);
  const flags = decoding.readUint8(decoder);
  if (flags & ~(FLAG_TEXT | FLAG_DELETED | FLAG_DISK)) throw new Error('unknown entry flags');
  const hash = readHash(decoder);
  const size = decoding.readVarUint(decoder);
  const changed = readStamp(decoder);
  const moved = readStamp(decoder);
  const version = readVersion(decoder);
  const lived = readVersion(decoder);
  const seq = decoding.readVarUint(decoder);
  const kind = flags & FLAG_TEXT ? 'text' : 'blob';
  let sv: Uint8Array | null = null;
  if (kind === 'text') {
    sv = decoding.readVarUint8Array(decoder).slice();
    if (sv.length > MAX_SV_BYTES) throw new Error('state vector too long');
  }
  let disk: DiskState | null = null;
  if (flags & FLAG_DISK) {
    disk = {
      path: decoding.readVarString(decoder),
      hash: readHash(decoder),
      size: decoding.readVarUint(decoder),
      mtime: decoding.readFloat64(decoder),
    };
  }
  const entry: Entry = { id, path, kind, deleted: (flags & FLAG_DELETED) !== 0, hash, size, changed, moved, version, lived, seq, sv };
  return { entry, disk };
}

/** A whole record as bytes (for stores that keep bytes). */
export function encodeRecord(record: FileRecord): Uint8Array {
  const encoder = encoding.createEncoder();
  writeEntry(encoder, record, record.disk);
  return encoding.toUint8Array(encoder);
}

export function decodeRecord(bytes: Uint8Array): FileRecord {
  const decoder = decoding.createDecoder(bytes);
  const { entry, disk } = readEntry(decoder);
  if (decoding.hasContent(decoder)) throw new Error('trailing bytes after a record');
  return { ...entry, disk };
}

export function encodePeerMark(mark: PeerMark): Uint8Array {
  return encoding.encode((encoder) => {
    encoding.writeVarString(encoder, mark.deviceId);
    encoding.writeVarString(encoder, mark.epoch);
    encoding.writeVarUint(encoder, mark.seen);
    encoding.writeVarUint(encoder, mark.acked);
    encoding.writeVarString(encoder, mark.ackedEpoch);
  });
}

export function decodePeerMark(bytes: Uint8Array): PeerMark {
  const decoder = decoding.createDecoder(bytes);
  return {
    deviceId: decoding.readVarString(decoder),
    epoch: decoding.readVarString(decoder),
    seen: decoding.readVarUint(decoder),
    acked: decoding.readVarUint(decoder),
    ackedEpoch: decoding.readVarString(decoder),
  };
}

function writeVersion(encoder: encoding.Encoder, version: VersionVector): void {
  const entries = Object.entries(version);
  encoding.writeVarUint(encoder, entries.length);
  for (const [replica, counter] of entries) {
    encoding.writeUint32(encoder, Number.parseInt(replica, 16) >>> 0);
    encoding.writeVarUint(encoder, counter);
  }
}

function readVersion(decoder: decoding.Decoder): VersionVector {
  const count = decoding.readVarUint(decoder);
  if (count > MAX_VERSION_ENTRIES) throw new Error('version vector too long');
  const version: Record<string, number> = {};
  for (let i = 0; i < count; i += 1) {
    const replica = decoding.readUint32(decoder).toString(16).padStart(8, '0');
    version[replica] = decoding.readVarUint(decoder);
  }
  return version;
}

function writeStamp(encoder: encoding.Encoder, stamp: Stamp): void {
  encoding.writeVarUint(encoder, stamp.t);
  encoding.writeVarString(encoder, stamp.d);
}

function readStamp(decoder: decoding.Decoder): Stamp {
  const t = decoding.readVarUint(decoder);
  const d = decoding.readVarString(decoder);
  if (d.length > 64) throw new Error('device id too long');
  return { t, d };
}

export function idBytes(id: string): Uint8Array {
  const bytes = fromHex(id);
  if (!bytes || bytes.length !== 16) throw new Error(`not a file id: ${id}`);
  return bytes;
}

function hashBytes(hash: string): Uint8Array {
  if (hash === '') return new Uint8Array(0);
  const bytes = fromHex(hash);
  if (!bytes || bytes.length !== 32) throw new Error(`not a content hash: ${hash}`);
  return bytes;
}

function readHash(decoder: decoding.Decoder): string {
  const bytes = decoding.readVarUint8Array(decoder);
  if (bytes.length !== 0 && bytes.length !== 32) throw new Error('bad content hash');
  return toHex(bytes);
}

/** What a peer is sent of a record: everything but this device's disk. */
export function entryOf(record: FileRecord): Entry {
  const { disk: _disk, ...entry } = record;
  return entry;
}
