import type { FrameStream, SyncEvent } from '../../src/core/ports';
import { chunkHashesOf, contentHash } from '../../src/sync/hash';
import type { Entry } from '../../src/sync/records-codec';
import { BLOB_PROTOCOL, PROTOCOL_VERSION, SYNC_PROTOCOL, decodeMessage, encodeMessage, type SyncMessage } from '../../src/sync/wire';
import { memoryLink } from '../support/memory-connection';
import { Device, bothFinished, deviceFleet, connect, converged, nodeIdOf, nodeSha256, waitFor, type Connection } from '../support/sync-harness';

/** What a person reads while a sync runs: progress in files and bytes, and `finished` only when it is true. */

const { start, link } = deviceFleet();

const lastProgress = (events: readonly SyncEvent[]): SyncEvent | undefined => events.filter((e) => e.type === 'progress').at(-1);

describe('progress', () => {
  it('counts files, not index entries: an offline merge of one note reads 1 file on both sides', async () => {
    const a = await start('a', { 'n.md': 'one\ntwo\n' });
    const b = await start('b');
    const first = link(a, b);
    await waitFor(() => bothFinished(first), 'the first sync');
    await converged([a, b]);
    first.disconnect();
    a.vault.put('n.md', 'one A\ntwo\n');
    b.vault.put('n.md', 'one\ntwo B\n');
    await waitFor(() => a.engine.pending().files === 0 && b.engine.pending().files === 0 && a.engine.records()[0]!.hash !== b.engine.records()[0]!.hash, 'both edits ingested');
    const second = link(a, b);
    await waitFor(() => bothFinished(second), 'the merge');
    expect(a.vault.text('n.md')).toBe('one A\ntwo B\n');
    expect(lastProgress(second.events.a)).toMatchObject({ files: { done: 1, total: 1 } });
    expect(lastProgress(second.events.b)).toMatchObject({ files: { done: 1, total: 1 } });
  });

  it('reports a started … finished cycle on the sending side of a live edit too, counting the one file', async () => {
    const a = await start('a', { 'n.md': 'one\n' });
    const b = await start('b');
    const c = link(a, b);
    await waitFor(() => bothFinished(c), 'the catch-up');
    const from = c.events.a.length;
    a.vault.put('n.md', 'one, edited\n');
    await waitFor(() => b.vault.text('n.md') === 'one, edited\n' && c.events.a.length > from && bothFinished(c), 'the live edit');
    const cycle = c.events.a.slice(from);
    expect(cycle[0]).toEqual({ type: 'started' });
    expect(lastProgress(cycle)).toMatchObject({ files: { done: 1, total: 1 } });
  });

  it("counts an attachment's bytes in the total while it transfers", async () => {
    const content = new Uint8Array(1_500_000).map((_, i) => (i * 13) % 251);
    const a = await start('a', { 'video.mp4': content, 'n.md': 'x\n' });
    const b = await start('b');
    const c = link(a, b, { latencyMs: 30 });
    await waitFor(() => bothFinished(c), 'the catch-up');
    const bytes = c.events.b.flatMap((e) => (e.type === 'progress' ? [e.bytes] : []));
    // Mid-transfer, the total already holds the whole attachment (it used to trail what had arrived).
    const during = bytes.filter((p) => p.done > 0 && p.done < content.length);
    expect(during.length).toBeGreaterThan(0);
    for (const p of during) expect(p.total).toBeGreaterThanOrEqual(content.length);
    expect(lastProgress(c.events.b)).toMatchObject({ files: { done: 2, total: 2 }, bytes: { done: bytes.at(-1)!.total } });
  });
});

describe('finished', () => {
  it('waits for an attachment the peer said it no longer had, until a later fetch brings it', async () => {
    const device = await start('v');
    const peer = nodeIdOf('p');
    const link = memoryLink(peer, device.id);
    const order: string[] = [];
    const subscription = device.engine.syncWithPeer(link.b).subscribe((e) => e.type === 'finished' && order.push('finished'));
    const stream = await link.a.openStream(SYNC_PROTOCOL);
    const send = (m: SyncMessage): Promise<void> => stream.write(encodeMessage(m));
    const bytes = new Uint8Array([1, 2, 3]);
    const hash = await contentHash(bytes, nodeSha256);
    const stamp = { t: 1_764_000_000_000, d: '70707070' };
    const entry: Entry = { id: 'd'.repeat(32), path: 'pic.png', kind: 'blob', deleted: false, hash, size: 3, changed: stamp, moved: stamp, version: { '70707070': 1 }, lived: { '70707070': 1 }, seq: 1, sv: null };
    const asks: FrameStream[] = [];
    const blobs = link.a.incomingStreams(BLOB_PROTOCOL).subscribe((s) => asks.push(s));
    await send({ type: 'hello', protocol: PROTOCOL_VERSION, folder: 'vault', device: peer, epoch: '7070707070707070', seenEpoch: '', seen: 0 });
    await send({ type: 'changes', entries: [entry], docs: [] });
    await send({ type: 'caught-up', seq: 1 });
    // Confirms everything the device says it sent, as a peer does once it has applied it.
    void (async () => {
      for (let frame = await stream.read().catch(() => null); frame; frame = await stream.read().catch(() => null)) {
        const message = decodeMessage(frame);
        if (message.type === 'caught-up') await send({ type: 'synced', seq: message.seq, caughtUp: 0 }).catch(() => undefined);
      }
    })();
    await waitFor(() => asks.length === 1, 'the first ask');
    const gone = asks[0]!;
    await gone.read();
    await gone.write(encodeMessage({ type: 'gone', reason: 'not here yet' }));
    await gone.finish();
    order.push('gone');
    // The entry is applied and confirmed, yet the content is missing: not finished. The fetcher asks again after 1 s.
    await waitFor(() => asks.length === 2, 'the second ask');
    const again = asks[1]!;
    order.push('asked again');
    expect(decodeMessage((await again.read())!)).toMatchObject({ type: 'want', hash });
    await again.write(encodeMessage({ type: 'head', size: 3, chunks: await chunkHashesOf(bytes, nodeSha256) }));
    await again.write(encodeMessage({ type: 'chunk', index: 0, bytes }));
    await again.finish();
    await waitFor(() => order.includes('finished'), 'finished once the content is here');
    expect(order).toEqual(['gone', 'asked again', 'finished']);
    expect(device.vault.bytes('pic.png')).toEqual(Buffer.from(bytes));
    subscription.unsubscribe();
    blobs.unsubscribe();
    link.cut();
  });
});
