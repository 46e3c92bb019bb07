import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type * as Iroh from '@number0/iroh/index.js';
import { MAX_STREAM_FRAME_BYTES } from '../../src/core/ports';
import { IrohFrameStream } from '../../src/transport/frame-stream';
import { FrameReader, lengthPrefixed, toBindingBytes } from '../../src/transport/framing';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * A stream that lives as long as a sync session carries every note of a
 * vault. Each chunk read from the binding is a JavaScript array (8 bytes per
 * byte); none may stay reachable once its frame has been read, or a session
 * holds everything it ever received (the sync bench saw a peer grow to
 * 400 MB receiving 10,000 notes).
 */
describe('IrohFrameStream memory', () => {
  it('keeps nothing of the chunks it has read while the stream stays open', async () => {
    const chunks: WeakRef<number[]>[] = [];
    const recv = {
      read: () => {
        const chunk = toBindingBytes(lengthPrefixed(new Uint8Array(64 * 1024).fill(chunks.length & 0xff)));
        chunks.push(new WeakRef(chunk));
        return Promise.resolve(chunk);
      },
      stop: () => Promise.resolve(),
    } as unknown as Iroh.RecvStream;
    const send = { writeAll: () => Promise.resolve(), finish: () => Promise.resolve(), reset: () => Promise.resolve() } as unknown as Iroh.SendStream;
    const stream = new IrohFrameStream('bench/memory', send, recv, new FrameReader(MAX_STREAM_FRAME_BYTES), { heard: () => undefined, ended: () => undefined });

    for (let i = 0; i < 20; i += 1) expect((await stream.read())?.[0]).toBe(i & 0xff);
    // WeakRefs hold their targets until the current job ends: collect after a macrotask.
    await new Promise((resolve) => setImmediate(resolve));
    gc();

    const kept = chunks.slice(0, -1).filter((ref) => ref.deref() !== undefined).length;
    expect(kept).toBe(0);
    stream.reset();
  });
});
