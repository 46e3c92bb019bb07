import { firstValueFrom, take, toArray } from 'rxjs';
import type { FrameStream } from '../../src/core/ports';
import { REFUSED_FRAME } from '../../src/sync/messages';
import type { Entry } from '../../src/sync/records-codec';
import { SyncRefusal } from '../../src/sync/refusal';
import { BLOB_PROTOCOL, PROTOCOL_VERSION, SYNC_PROTOCOL, decodeMessage, encodeMessage, type SyncMessage } from '../../src/sync/wire';
import { memoryLink, type MemoryLink } from '../support/memory-connection';
import { Device, bothFinished, connect, converged, nodeIdOf, waitFor } from '../support/sync-harness';

/**
 * A peer that speaks the protocol by hand, to send what a real engine never
 * would. Each bad message must end the session with a reason (the peer is
 * told: the connection closes as refused), write nothing, and leave other
 * peers' sessions alone.
 */

const HOSTILE = nodeIdOf('h');

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

async function hostileTo(device: Device): Promise<Hostile> {
  const link = memoryLink(HOSTILE, device.id);
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

  it('an entry that is too big to be a note is refused', async () => {
    const hostile = await hostileTo(device);
    await hostile.send({ type: 'changes', entries: [entry('huge.md', { kind: 'text', size: 1e12, sv: new Uint8Array([1, 1, 1]) })], docs: [] });
    await expectRefused(hostile, /larger than the limit/u);
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
