import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import * as iroh from '@number0/iroh/index.js';
import { firstValueFrom, tap, toArray } from 'rxjs';
import { MAX_STREAM_FRAME_BYTES, type FrameStream, type PeerConnection } from '../../src/core/ports';
import { encodeStreamHeader } from '../../src/transport/framing';
import type { IrohTransport } from '../../src/transport/iroh-transport';
import { ALPN_BYTES, about, activeTimers, controlBytes, loopbackTransport, next, rawLoopbackEndpoint } from '../support/iroh';

jest.setTimeout(60_000);

const open: IrohTransport[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function pair(): Promise<{ a: IrohTransport; b: IrohTransport; outgoing: PeerConnection; incoming: PeerConnection }> {
  const a = await loopbackTransport('Laptop');
  const b = await loopbackTransport('Desktop');
  open.push(a, b);
  const incoming = next(b.incoming$.pipe(tap((connection) => connection.accept?.())));
  const outgoing = await next(a.connect(await b.generateTicket()));
  return { a, b, outgoing, incoming: await incoming };
}

function bytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += 1) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** Frames as hex digests: jest's deep equality walks a 1 MiB array element by element, for seconds. */
function digests(frames: Uint8Array[]): string[] {
  return frames.map((f) => `${f.length}:${createHash('sha256').update(f).digest('hex').slice(0, 16)}`);
}

async function readAllFrames(stream: FrameStream): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  for (let frame = await stream.read(); frame; frame = await stream.read()) frames.push(Uint8Array.from(frame));
  return frames;
}

describe('streams on a connection (real iroh, loopback)', () => {
  it('carries frames of every size both ways, tagged by protocol, and ends cleanly when both finish', async () => {
    const { outgoing, incoming } = await pair();
    const accepted = next(incoming.incomingStreams('sync/1'));
    const stream = await outgoing.openStream('sync/1');
    const sent = [new Uint8Array(0), bytes(1), bytes(70_000, 2), bytes(MAX_STREAM_FRAME_BYTES, 3)];
    const writing = (async () => {
      for (const frame of sent) await stream.write(frame);
      await stream.finish();
    })();
    const other = await accepted;
    expect(digests(await readAllFrames(other))).toEqual(digests(sent));
    await writing;
    await other.write(bytes(10, 9));
    await other.finish();
    await expect(readAllFrames(stream)).resolves.toEqual([bytes(10, 9)]);
    await expect(stream.read()).resolves.toBeNull();
  });

  it('keeps two protocols apart on one connection, in both directions', async () => {
    const { outgoing, incoming } = await pair();
    const syncIn = next(incoming.incomingStreams('sync/1'));
    const blobIn = next(outgoing.incomingStreams('blob/1'));
    const sync = await outgoing.openStream('sync/1');
    const blob = await incoming.openStream('blob/1');
    await Promise.all([sync.write(bytes(5, 1)), blob.write(bytes(6, 2))]);
    await Promise.all([sync.finish(), blob.finish()]);
    await expect(readAllFrames(await syncIn)).resolves.toEqual([bytes(5, 1)]);
    await expect(readAllFrames(await blobIn)).resolves.toEqual([bytes(6, 2)]);
  });

  it('holds a stream that arrives before anyone asks for its protocol, for a moment', async () => {
    const { outgoing, incoming } = await pair();
    const stream = await outgoing.openStream('sync/1');
    await stream.write(bytes(3));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const late = await next(incoming.incomingStreams('sync/1'));
    await expect(late.read()).resolves.toEqual(bytes(3));
  });

  it('resets a stream of a protocol nobody here takes; the opener reads why', async () => {
    const { outgoing } = await pair();
    const stream = await outgoing.openStream('nobody/1');
    await expect(stream.read()).rejects.toThrow('The other device does not take "nobody/1" streams now.');
    await expect(stream.write(bytes(1))).rejects.toThrow();
  });

  it('holds back a writer whose reader does not read, instead of buffering without bound', async () => {
    const { outgoing, incoming } = await pair();
    const accepted = next(incoming.incomingStreams('sync/1'));
    const stream = await outgoing.openStream('sync/1');
    const frame = bytes(256 * 1024);
    let resolved = 0;
    const writing = (async () => {
      for (let i = 0; i < 64; i += 1) {
        await stream.write(frame);
        resolved += 1;
      }
      await stream.finish();
    })();
    const other = await accepted;
    // Nobody reads: the writes stall once QUIC's receive window is full.
    let stalledAt = -1;
    for (let i = 0; i < 40; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (resolved === stalledAt) break;
      stalledAt = resolved;
    }
    expect(resolved).toBe(stalledAt);
    expect(resolved).toBeLessThan(16); // 4 MiB of 16 MiB: held back well before the end
    const received = await readAllFrames(other);
    await writing;
    expect(received.length).toBe(64);
    expect(received.every((f) => f.length === frame.length && f[1000] === frame[1000])).toBe(true);
  });

  it('refuses to send a frame over the limit, and sends nothing', async () => {
    const { outgoing, incoming } = await pair();
    const accepted = next(incoming.incomingStreams('sync/1'));
    const stream = await outgoing.openStream('sync/1');
    await expect(stream.write(new Uint8Array(MAX_STREAM_FRAME_BYTES + 1))).rejects.toThrow(`A frame of ${MAX_STREAM_FRAME_BYTES + 1} bytes is over the limit`);
    await stream.write(bytes(2));
    await stream.finish();
    await expect(readAllFrames(await accepted)).resolves.toEqual([bytes(2)]);
  });

  it('fails a stream whose peer announces an oversized frame, before its body arrives', async () => {
    const b = await loopbackTransport('Desktop');
    open.push(b);
    const incoming = next(b.incoming$.pipe(tap((c) => c.accept?.())));
    const hostile = await rawLoopbackEndpoint();
    try {
      const raw = await hostile.connect(iroh.EndpointTicket.fromString(await b.generateTicket()).endpointAddr(), ALPN_BYTES);
      const control = await raw.openBi();
      await control.send.writeAll(controlBytes({ type: 'hello', ...about('Hostile') }));
      await control.recv.read(4_096); // welcome
      const connection = await incoming;
      const accepted = next(connection.incomingStreams('sync/1'));
      const stream = await raw.openBi();
      // 2 GiB announced, and no body at all: the reader must refuse on the length alone.
      await stream.send.writeAll([...encodeStreamHeader('sync/1'), 0x80, 0, 0, 0]);
      const victim = await accepted;
      await expect(victim.read()).rejects.toThrow(`The other device sent a frame of 2147483648 bytes on the "sync/1" stream (at most ${MAX_STREAM_FRAME_BYTES}).`);
      // The hostile side is told: its stream is reset.
      await expect(stream.recv.read(10)).rejects.toThrow(/Reset\(1\)/);
      raw.close(0n, []);
    } finally {
      await hostile.close();
    }
  });

  it('a reset reaches the other side: its pending read rejects, and nothing more can be written', async () => {
    const { outgoing, incoming } = await pair();
    const accepted = next(incoming.incomingStreams('sync/1'));
    const stream = await outgoing.openStream('sync/1');
    const other = await accepted;
    const pending = other.read();
    stream.reset();
    stream.reset(); // idempotent
    await expect(pending).rejects.toThrow('The other device abandoned the "sync/1" stream.');
    await expect(stream.write(bytes(1))).rejects.toThrow('abandoned on this device');
    await expect(stream.read()).rejects.toThrow('abandoned on this device');
  });

  it('when the connection closes, pending reads and writes reject, streams complete, and nothing is left running', async () => {
    const timersBefore = activeTimers();
    const { a, b, outgoing, incoming } = await pair();
    const accepted = next(incoming.incomingStreams('sync/1'));
    const stream = await outgoing.openStream('sync/1');
    await accepted; // and never read
    const pendingRead = stream.read(); // nobody writes to it
    const frame = bytes(512 * 1024);
    const pendingWrites = (async () => {
      for (;;) await stream.write(frame); // stalls: nobody reads
    })();
    const completed = firstValueFrom(incoming.incomingStreams('blob/1').pipe(toArray()));
    await new Promise((resolve) => setTimeout(resolve, 300));
    outgoing.close('Bye.');
    await expect(pendingWrites).rejects.toThrow('The connection ended: Bye.');
    await expect(pendingRead).rejects.toThrow(/Bye\./);
    await expect(completed).resolves.toEqual([]);
    await expect(outgoing.openStream('sync/1')).rejects.toThrow('The connection has ended.');
    await a.close();
    await b.close();
    expect([a.connectionCount, a.pendingCount, b.connectionCount, b.pendingCount]).toEqual([0, 0, 0, 0]);
    // Timers of earlier specs' connections may still be running out: wait for the count to settle.
    for (let i = 0; i < 50 && activeTimers() > timersBefore; i += 1) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(activeTimers()).toBeLessThanOrEqual(timersBefore);
  });

  it('one read at a time', async () => {
    const { outgoing } = await pair();
    const stream = await outgoing.openStream('sync/1');
    const first = stream.read();
    await expect(stream.read()).rejects.toThrow('One read at a time');
    stream.reset();
    await expect(first).rejects.toThrow();
  });

  it('refuses a malformed protocol tag', async () => {
    const { outgoing } = await pair();
    await expect(outgoing.openStream('../x')).rejects.toThrow('is not a stream protocol tag');
  });
});

describe('streams across two processes', () => {
  let child: ChildProcess | null = null;
  afterEach(() => {
    child?.stdin?.end();
    child = null;
  });

  it('echoes 4 MiB in frames from another process, byte for byte', async () => {
    child = spawn(process.execPath, [join(__dirname, '..', '..', 'dist', 'bench', 'stream-peer.js'), JSON.stringify({ mode: 'transport' })], { stdio: ['pipe', 'pipe', 'inherit'] });
    const ready = await new Promise<{ ticket: string }>((resolve, reject) => {
      let out = '';
      child!.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as { ticket: string });
      });
      child!.once('exit', (code) => reject(new Error(`stream peer exited with ${code}`)));
    });
    const a = await loopbackTransport('Laptop');
    open.push(a);
    const connection = await next(a.connect(ready.ticket));
    const stream = await connection.openStream('echo/1');
    const sent = Array.from({ length: 16 }, (_, i) => bytes(256 * 1024, i));
    const writing = (async () => {
      for (const frame of sent) await stream.write(frame);
      await stream.finish();
    })();
    const received = await readAllFrames(stream);
    await writing;
    const digest = (frames: Uint8Array[]): string => frames.reduce((h, f) => h.update(f), createHash('sha256')).digest('hex');
    expect(received.length).toBe(16);
    expect(digest(received)).toBe(digest(sent));
  });
});
