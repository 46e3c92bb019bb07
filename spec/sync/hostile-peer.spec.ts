import { firstValueFrom, take, toArray } from 'rxjs';
import type { FrameStream } from '../../src/core/ports';
import { REFUSED_FRAME } from '../../src/sync/messages';
import type { Entry } from '../../src/sync/records-codec';
import { SyncRefusal } from '../../src/sync/refusal';
import { BLOB_PROTOCOL, MAX_WANTS_PER_MESSAGE, PROTOCOL_VERSION, SYNC_PROTOCOL, decodeMessage, encodeMessage, type SyncMessage } from '../../src/sync/wire';
import { memoryLink, type MemoryLink, type MemoryLinkOptions } from '../support/memory-connection';
import { manyWants } from './frames';
import { Device, bothFinished, connect, converged, nodeIdOf, nodeSha256, waitFor } from '../support/sync-harness';
import { CHUNK_BYTES, chunkHashesOf, hashOfChunks } from '../../src/sync/hash';

/**
 * A peer that speaks the protocol by hand, to send what a real engine never
 * would. Each bad message must end the session with a reason (the peer is
 * told: the connection closes as refused), write nothing, and leave other
 * peers' sessions alone.
 */

const HOSTILE = nodeIdOf('h');

interface Part {
  readonly id: string;
  readonly offset: number;
  readonly total?: number;
}

function entry(path: string, fields: Partial<Entry> = {}): Entry {
  return {
    id: 'e'.repeat(32),
    path,
    kind: 'blob',
    deleted: false,
    hash: 'c'.repeat(64),
    size: 3,
    changed: { t: 1_764_000_000_000, d: '68686868' },
    moved: { t: 1_764_000_000_000, d: '68686868' },
    version: { '68686868': 1 },
    lived: { '68686868': 1 },
    seq: 1,
    sv: null,
    ...fields,
  };
}

interface Hostile {
  readonly link: MemoryLink;
  readonly stream: FrameStream;
  readonly result: Promise<unknown>;
  send(message: SyncMessage | Uint8Array): Promise<void>;
}

async function hostileTo(device: Device, options: MemoryLinkOptions = {}): Promise<Hostile> {
  const link = memoryLink(HOSTILE, device.id, options);
  const result = firstValueFrom(device.engine.syncWithPeer(link.b).pipe(toArray())).then(
    () => 'completed',
    (error: unknown) => error,
  );
  const stream = await link.a.openStream(SYNC_PROTOCOL);
  const send = (message: SyncMessage | Uint8Array): Promise<void> => stream.write(message instanceof Uint8Array ? message : encodeMessage(message));
  await send({ type: 'hello', protocol: PROTOCOL_VERSION, folder: 'vault', device: HOSTILE, epoch: 'bad0bad0bad0bad0', seenEpoch: '', seen: 0 });
  return { link, stream, result, send };
}

describe('a hostile peer', () => {
  let device: Device;
  let friend: Device;
  beforeEach(async () => {
    device = await Device.start('v', { 'note.md': 'mine\n', 'Photo.png': new Uint8Array([1, 2, 3]) });
    friend = await Device.start('f');
  });
  afterEach(async () => {
    await device.engine.close();
    await friend.engine.close();
  });

  async function expectRefused(hostile: Hostile, reason: RegExp): Promise<void> {
    const error = await hostile.result;
    expect(error).toBeInstanceOf(SyncRefusal);
    expect(String((error as Error).message)).toMatch(reason);
    expect(hostile.link.b.closeKinds).toEqual(['refused']);
    expect(hostile.link.a.closed).toBe(true);
    await device.engine.settled();
    expect(device.vault.engineWrites).toEqual([]);
    expect(device.vault.violations).toEqual([]);
    expect(device.vault.paths()).toEqual(['Photo.png', 'note.md']);
    expect(device.vault.stagedKeys()).toEqual([]);
  }

  it.each([
    ['../x.md', /leaves the synced folder/u],
    ['a/../../x.md', /leaves the synced folder/u],
    ['/etc/passwd', /absolute path/u],
    ['C:/Windows/system.ini', /absolute path/u],
    ['a\\..\\..\\x.md', /backslash/u],
    ['a\u0000.md', /NUL byte/u],
    ['CON.md', /reserves/u],
    ['notes/lpt1', /reserves/u],
    ['.obsidian/plugins/evil/main.js', /hidden/u],
    ['.git/hooks/pre-commit', /hidden/u],
    ['~syncthing~note.md.tmp', /Syncthing/u],
    ['trailing. ', /dot or a space/u],
  ])('sending %j is refused with a reason, and nothing is written', async (path, reason) => {
    const hostile = await hostileTo(device);
    await hostile.send({ type: 'changes', entries: [entry(path)], docs: [] });
    await expectRefused(hostile, reason);
  });

  it('a frame that does not decode is refused', async () => {
    const hostile = await hostileTo(device);
    await hostile.send(new Uint8Array([2, 0xff, 0xff, 0xff]));
    await expectRefused(hostile, new RegExp(REFUSED_FRAME.slice(0, 30), 'u'));
  });

  it('a damaged note update is refused before it touches the note', async () => {
    const hostile = await hostileTo(device);
    const note = device.engine.records().find((r) => r.path === 'note.md')!;
    await hostile.send({ type: 'changes', entries: [{ ...entry('note.md'), id: note.id, kind: 'text', version: { ...note.version, '68686868': 5 }, sv: new Uint8Array([1, 7, 9]) }], docs: [] });
    // The engine asks for the content; the answer is garbage.
    const want = decodeMessage((await readUntil(hostile.stream, 'want-docs'))!);
    expect(want.type).toBe('want-docs');
    await hostile.send({ type: 'docs', docs: [{ id: note.id, update: new Uint8Array([1, 1, 200, 3, 9, 9, 9, 9]) }] });
    await expectRefused(hostile, /damaged change to "note.md"/u);
    expect(device.vault.text('note.md')).toBe('mine\n');
  });

  it('an attachment chunk that does not match its hash is refused, and nothing of it is kept', async () => {
    const hostile = await hostileTo(device);
    const served = firstValueFrom(hostile.link.a.incomingStreams(BLOB_PROTOCOL).pipe(take(1)));
    await hostile.send({ type: 'changes', entries: [entry('new.png', { id: 'd'.repeat(32), hash: 'cafe'.repeat(16) })], docs: [] });
    const blob = await served;
    const want = decodeMessage((await blob.read())!);
    expect(want).toMatchObject({ type: 'want', hash: 'cafe'.repeat(16), from: 0 });
    // A head whose chunk hashes do not add up to the content hash it claims.
    await blob.write(encodeMessage({ type: 'head', size: 3, chunks: [new Uint8Array(32).fill(7)] }));
    await expectRefused(hostile, /does not match its checksum/u);
  });

  it('an attachment whose HEAD claims another size than its entry announced is refused, even with chunks that add up', async () => {
    const hostile = await hostileTo(device);
    const served = firstValueFrom(hostile.link.a.incomingStreams(BLOB_PROTOCOL).pipe(take(1)));
    // Real content of three chunks, announced as 10 bytes: without the size check it would be staged in full.
    const content = new Uint8Array(CHUNK_BYTES * 2 + 100).fill(5);
    const chunks = await chunkHashesOf(content, nodeSha256);
    const hash = await hashOfChunks(chunks, nodeSha256);
    await hostile.send({ type: 'changes', entries: [entry('small.png', { id: 'd'.repeat(32), hash, size: 10 })], docs: [] });
    const blob = await served;
    expect(decodeMessage((await blob.read())!)).toMatchObject({ type: 'want', hash });
    await blob.write(encodeMessage({ type: 'head', size: content.length, chunks }));
    await blob.write(encodeMessage({ type: 'chunk', index: 0, bytes: content.subarray(0, CHUNK_BYTES) })).catch(() => undefined);
    await expectRefused(hostile, /announced "small.png" at one size and sent another/u);
  });

  it('a note entry over the size limit is skipped and logged, and the session goes on', async () => {
    const hostile = await hostileTo(device);
    await hostile.send({ type: 'changes', entries: [entry('huge.md', { kind: 'text', size: 1e12, sv: new Uint8Array([1, 1, 1]) })], docs: [] });
    await hostile.send({ type: 'caught-up', seq: 1 });
    // Its content is never asked for; the entry counts as handled, so the device confirms it.
    const seen: string[] = [];
    for (;;) {
      const message = decodeMessage((await hostile.stream.read())!);
      seen.push(message.type);
      if (message.type === 'synced') {
        expect(message.seq).toBe(1);
        break;
      }
    }
    expect(seen).not.toContain('want-docs');
    const log = await firstValueFrom(device.engine.activityLog$);
    expect(log.map((e) => e.message)).toContainEqual(expect.stringMatching(/note "huge.md" is over 8 MiB/u));
    expect(hostile.link.b.closeKinds).toEqual([]);
    await device.engine.settled();
    expect(device.vault.engineWrites).toEqual([]);
    expect(device.engine.records().map((r) => r.path).sort()).toEqual(['Photo.png', 'note.md']);
    hostile.link.cut('disconnected');
    expect(await hostile.result).toBe('completed');
  });

  /** Makes the device ask for note.md's content: the hostile peer claims a version of it the device lacks. */
  async function askedForNote(hostile: Hostile): Promise<string> {
    const note = device.engine.records().find((r) => r.path === 'note.md')!;
    await hostile.send({ type: 'changes', entries: [{ ...entry('note.md'), id: note.id, kind: 'text', version: { ...note.version, '68686868': 5 }, sv: new Uint8Array([1, 7, 9]) }], docs: [] });
    expect(decodeMessage((await readUntil(hostile.stream, 'want-docs'))!)).toMatchObject({ wants: [{ id: note.id }] });
    return note.id;
  }

  it('note update parts nobody asked for are dropped as they come: a flood of huge claims holds nothing', async () => {
    const hostile = await hostileTo(device);
    const part = new Uint8Array(1024).fill(9);
    for (let i = 0; i < 40; i += 1) await hostile.send({ type: 'doc-part', id: i.toString(16).padStart(32, 'a'), total: 32 * 1024 * 1024, offset: 0, bytes: part });
    await hostile.send({ type: 'caught-up', seq: 0 });
    await readUntil(hostile.stream, 'synced');
    expect(JSON.parse(device.engine.describeSessions()[0]!)).toMatchObject({ assembling: 0 });
    expect(hostile.link.b.closeKinds).toEqual([]);
    hostile.link.cut('disconnected');
    expect(await hostile.result).toBe('completed');
    expect(device.vault.engineWrites).toEqual([]);
  });

  it('a part claiming more than the largest note update is refused before anything is kept', async () => {
    const hostile = await hostileTo(device);
    const id = await askedForNote(hostile);
    await hostile.send({ type: 'doc-part', id, total: 33 * 1024 * 1024, offset: 0, bytes: new Uint8Array(10) });
    await expectRefused(hostile, /larger than the limit/u);
  });

  it.each([
    ['a part that does not start at 0', (id: string): Part[] => [{ id, offset: 5 }]],
    ['a gap between parts', (id: string): Part[] => [{ id, offset: 0 }, { id, offset: 2000 }]],
    ['a part that changes the total', (id: string): Part[] => [{ id, offset: 0 }, { id, offset: 1000, total: 9000 }]],
    ['parts of another note in between', (id: string): Part[] => [{ id, offset: 0 }, { id: id.replace(/^./u, (c) => (c === '0' ? '1' : '0')), offset: 0 }]],
  ])('%s is refused, and nothing of the note is written', async (_, parts) => {
    const hostile = await hostileTo(device);
    const id = await askedForNote(hostile);
    for (const part of parts(id)) await hostile.send({ type: 'doc-part', id: part.id, total: part.total ?? 5000, offset: part.offset, bytes: new Uint8Array(1000).fill(1) });
    await expectRefused(hostile, /out of order/u);
    expect(device.vault.text('note.md')).toBe('mine\n');
  });

  it('asks for notes it does not hold get no answer: a small frame cannot queue megabytes of replies', async () => {
    const sent: string[] = [];
    const hostile = await hostileTo(device, { tap: (from, _protocol, frame) => from === 'b' && sent.push(decodeMessage(frame).type) });
    const unknown = Array.from({ length: MAX_WANTS_PER_MESSAGE }, (_, i) => ({ id: i.toString(16).padStart(32, 'f'), sv: new Uint8Array([0]) }));
    await hostile.send({ type: 'want-docs', wants: unknown });
    await hostile.send({ type: 'caught-up', seq: 0 });
    await readUntil(hostile.stream, 'synced');
    expect(sent).not.toContain('docs');
    expect(hostile.link.b.closeKinds).toEqual([]);
    hostile.link.cut('disconnected');
    expect(await hostile.result).toBe('completed');
  });

  it('a peer that keeps asking for more notes than the index holds, without reading the answers, is refused', async () => {
    // A tiny window: the answers wait on the peer, so the asks pile up as they would against a peer that never reads.
    const hostile = await hostileTo(device, { windowBytes: 1024 });
    const note = device.engine.records().find((r) => r.path === 'note.md')!;
    const same = Array.from({ length: MAX_WANTS_PER_MESSAGE }, () => ({ id: note.id, sv: new Uint8Array([0]) }));
    for (let i = 0; i < 3; i += 1) await hostile.send({ type: 'want-docs', wants: same }).catch(() => undefined);
    await expectRefused(hostile, /asked for more notes at once than this device holds/u);
  });

  it('a list longer than any sender makes is refused as it is decoded, before a single item is read', async () => {
    const hostile = await hostileTo(device);
    // 50,000 wants in a frame of a few KB (they compress): refused on the count.
    const frame = manyWants(50_000);
    expect(frame.length).toBeLessThan(5_000);
    await hostile.send(frame);
    await expectRefused(hostile, new RegExp(REFUSED_FRAME.slice(0, 30), 'u'));
  });

  it('another identity in HELLO is refused', async () => {
    const link = memoryLink(HOSTILE, device.id);
    const result = firstValueFrom(device.engine.syncWithPeer(link.b).pipe(toArray())).catch((error: unknown) => error);
    const stream = await link.a.openStream(SYNC_PROTOCOL);
    await stream.write(encodeMessage({ type: 'hello', protocol: PROTOCOL_VERSION, folder: 'vault', device: nodeIdOf('z'), epoch: 'e', seenEpoch: '', seen: 0 }));
    expect(String(await result)).toMatch(/identity/u);
    expect(link.b.closeKinds).toEqual(['refused']);
  });

  it('leaves other peers unaffected: a friend syncing at the same time still syncs', async () => {
    const good = connect(friend, device);
    const hostile = await hostileTo(device);
    await hostile.send({ type: 'changes', entries: [entry('../escape.md')], docs: [] });
    expect(await hostile.result).toBeInstanceOf(SyncRefusal);
    await waitFor(() => bothFinished(good), 'the friend to finish');
    await converged([device, friend]);
    friend.vault.put('from-friend.md', 'hello\n');
    await waitFor(() => device.vault.text('from-friend.md') === 'hello\n', 'a live change from the friend');
    expect(good.errors).toEqual({ a: null, b: null });
    good.disconnect();
  });
});

async function readUntil(stream: FrameStream, type: string): Promise<Uint8Array | null> {
  for (;;) {
    const frame = await stream.read();
    if (!frame || decodeMessage(frame).type === type) return frame;
  }
}
