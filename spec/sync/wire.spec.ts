import { deflateSync } from 'fflate';
import { MAX_STREAM_FRAME_BYTES } from '../../src/core/ports';
import { changeFrames } from '../../src/sync/outbox';
import { manyWants } from './frames';
import { decodeRecord, encodeRecord, encodePeerMark, decodePeerMark, type Entry } from '../../src/sync/records-codec';
import { MAX_MESSAGE_BYTES, MAX_WANTS_PER_MESSAGE, decodeMessage, encodeMessage, inflateBounded, type BlobMessage, type SyncMessage } from '../../src/sync/wire';

const id = 'f'.repeat(32);
const entry: Entry = {
  id,
  path: 'Daily/2026-11-25.md',
  kind: 'text',
  deleted: false,
  hash: 'a'.repeat(64),
  size: 1234,
  changed: { t: 1764000000000, d: '61616161' },
  moved: { t: 0, d: '' },
  version: { '0000abcd': 3, ffff0000: 12 },
  lived: { ffff0000: 12 },
  seq: 42,
  sv: new Uint8Array([1, 2, 3]),
};

describe('sync messages on the wire', () => {
  const messages: (SyncMessage | BlobMessage)[] = [
    { type: 'hello', protocol: 1, folder: 'vault', device: 'ab'.repeat(32), epoch: '0123456789abcdef', seenEpoch: '', seen: 0 },
    { type: 'changes', entries: [entry, { ...entry, id: 'e'.repeat(32), kind: 'blob', sv: null, deleted: true }], docs: [{ id, update: new Uint8Array([0, 0]) }] },
    { type: 'caught-up', seq: 77 },
    { type: 'want-docs', wants: [{ id, sv: new Uint8Array([1, 5, 9]) }] },
    { type: 'docs', docs: [{ id, update: new Uint8Array(5000).fill(3) }] },
    { type: 'doc-part', id, total: 10, offset: 4, bytes: new Uint8Array([1, 2]) },
    { type: 'synced', seq: 5, caughtUp: 0 }, { type: 'synced', seq: 300, caughtUp: 301 },
    { type: 'bye', reason: 'shutting down' },
    { type: 'want', hash: 'c'.repeat(64), from: 3 },
    { type: 'head', size: 600000, chunks: [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)] },
    { type: 'chunk', index: 1, bytes: new Uint8Array(100).fill(9) },
    { type: 'gone', reason: 'changed' },
  ];

  it.each(messages.map((m) => [m.type, m]))('%s survives a round trip', (_type, message) => {
    expect(decodeMessage(encodeMessage(message))).toEqual(message);
  });

  it('deflates large payloads', () => {
    const frame = encodeMessage({ type: 'docs', docs: [{ id, update: new Uint8Array(50_000).fill(7) }] });
    expect(frame.length).toBeLessThan(1000);
    expect(frame[0]! & 0x80).toBe(0x80);
  });

  it.each([
    ['an empty frame', new Uint8Array(0)],
    ['an unknown type', new Uint8Array([99, 1, 2])],
    ['a truncated hello', encodeMessage(messages[0]!).slice(0, 10)],
    ['trailing bytes', new Uint8Array([...encodeMessage({ type: 'synced', seq: 1, caughtUp: 0 }), 0])],
    ['a list longer than its frame', new Uint8Array([4, 0xff, 0xff, 0x03])],
    ['a bad file id', (() => { const f = encodeMessage(messages[1]!); return f.slice(0, f.length - 30); })()],
  ])('refuses %s', (_name, frame) => {
    expect(() => decodeMessage(frame)).toThrow();
  });

  it('refuses more items than a sender puts in one message, and a payload that inflates past 1 MiB, before decoding any item', () => {
    expect(() => decodeMessage(manyWants(MAX_WANTS_PER_MESSAGE))).not.toThrow();
    expect(() => decodeMessage(manyWants(50_000))).toThrow(/50000 items, over 2000/u);
    expect(() => decodeMessage(manyWants(400_000))).toThrow(/too large/u);
  });

  it('refuses a compressed payload that inflates beyond what it announced (inflateBounded stops one byte past it; no timed assertion)', () => {
    const bomb = deflateSync(new Uint8Array(200_000_000));
    expect(bomb.length).toBeLessThan(MAX_STREAM_FRAME_BYTES);
    expect(() => inflateBounded(bomb, 1000)).toThrow(/does not match/u);
    expect(() => inflateBounded(bomb, MAX_MESSAGE_BYTES + 1)).toThrow(/too large/u);
  });

  it('cuts big batches into frames under the transport limit, a huge note update in parts', () => {
    const entries = Array.from({ length: 3000 }, (_, i) => ({ ...entry, id: i.toString(16).padStart(32, '0'), path: `${'folder/'.repeat(100)}${i}.md` }));
    const docs = [
      { id, update: new Uint8Array(3_000_000).map((_, i) => (i * 7919) % 251) },
      ...Array.from({ length: 20 }, (_, i) => ({ id: i.toString(16).padStart(32, '0'), update: new Uint8Array(60_000).map((_, j) => (j * i) % 253) })),
    ];
    const frames = changeFrames(entries, docs);
    expect(frames.filter((f) => f.type === 'doc-part').length).toBeGreaterThan(1);
    for (const frame of frames) {
      const encoded = encodeMessage(frame);
      expect(encoded.length).toBeLessThanOrEqual(MAX_STREAM_FRAME_BYTES);
      // And within what a receiver decodes (its inflated size and list counts).
      const decoded = decodeMessage(encoded);
      expect(decoded.type).toBe(frame.type);
      if (decoded.type === 'changes' && frame.type === 'changes') expect([decoded.entries.length, decoded.docs.length]).toEqual([frame.entries.length, frame.docs.length]);
    }
    const sent = frames.flatMap((f) => (f.type === 'changes' ? f.entries : []));
    expect(sent.length).toBe(entries.length);
  });

  it('keeps frames decodable for entries with long version vectors and for many tiny note updates', () => {
    const replicas = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [i.toString(16).padStart(8, '0'), 1_000_000 + i]));
    const entries = Array.from({ length: 2000 }, (_, i) => ({ ...entry, id: i.toString(16).padStart(32, '0'), version: replicas, lived: replicas }));
    const docs = Array.from({ length: 5000 }, (_, i) => ({ id: i.toString(16).padStart(32, '1'), update: new Uint8Array([0, 0]) }));
    const frames = changeFrames(entries, docs);
    for (const frame of frames) expect(decodeMessage(encodeMessage(frame))).toEqual(frame);
  });

  it('puts one live edit, entry and update, in one frame', () => {
    expect(changeFrames([entry], [{ id, update: new Uint8Array(20) }])).toHaveLength(1);
  });
});

describe('records for a store that keeps bytes', () => {
  it('survive a round trip, disk state included', () => {
    const record = { ...entry, disk: { path: entry.path, hash: 'b'.repeat(64), size: 12, mtime: 1764000000123.5 } };
    expect(decodeRecord(encodeRecord(record))).toEqual(record);
    expect(decodeRecord(encodeRecord({ ...record, disk: null }))).toEqual({ ...record, disk: null });
  });

  it('peer marks too', () => {
    const mark = { deviceId: 'ab'.repeat(32), epoch: '0011223344556677', seen: 9, acked: 4, ackedEpoch: 'ffeeddccbbaa9988' };
    expect(decodePeerMark(encodePeerMark(mark))).toEqual(mark);
  });
});
