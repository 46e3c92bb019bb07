/**
 * Stream throughput between two processes on loopback, in one run:
 * - the raw binding: already-built Array<number> chunks written on a bare
 *   iroh bi stream, read to the end by a bare endpoint (the ceiling);
 * - FrameStream: Uint8Array frames through the Vault Peers transport, read
 *   frame by frame on the other side (what the sync engine gets);
 * - the JavaScript conversions the binding forces, per MiB.
 * `npm run bench` includes it; `node dist/bench/streams.js [--quick]` runs it alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import * as iroh from '@number0/iroh/index.js';
import { MAX_STREAM_FRAME_BYTES } from '../src/core/ports';
import { IrohTransport, generateSecretKey } from '../src/transport/iroh-transport';
import { RAW_ALPN } from './stream-peer';
import { ROOT, median } from './lib';

const MiB = 1 << 20;
const RAW_CHUNK_BYTES = 256 * 1024;
const log = (line: string): void => void process.stdout.write(`${line}\n`);

async function streamPeer(mode: 'raw' | 'transport'): Promise<{ ticket: string; child: ChildProcess; close(): void }> {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'bench', 'stream-peer.js'), JSON.stringify({ mode })], { stdio: ['pipe', 'pipe', 'inherit'] });
  const { ticket } = await new Promise<{ ticket: string }>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as { ticket: string });
    });
    child.once('exit', (code) => reject(new Error(`stream peer exited with ${code}`)));
  });
  return { ticket, child, close: () => child.stdin!.end() };
}

/** MiB/s for `sizeMiB` written as prebuilt arrays on one raw bi stream, until the reader confirms the count. */
async function rawRun(connection: iroh.Connection, chunk: number[], sizeMiB: number): Promise<number> {
  const startedAt = performance.now();
  const stream = await connection.openBi();
  for (let i = 0; i < (sizeMiB * MiB) / chunk.length; i += 1) await stream.send.writeAll(chunk);
  await stream.send.finish();
  const reply = Buffer.from(await stream.recv.readToEnd(64)).toString();
  if (Number(reply) !== sizeMiB * MiB) throw new Error(`the raw reader counted ${reply} bytes`);
  return sizeMiB / ((performance.now() - startedAt) / 1000);
}

/** MiB/s for `sizeMiB` written as frames of `frameBytes` through FrameStream, until the sink confirms the count. */
async function frameStreamRun(transport: IrohTransport, ticket: string, frameBytes: number, sizeMiB: number): Promise<number> {
  const connection = await new Promise<import('../src/core/ports').PeerConnection>((resolve, reject) => transport.connect(ticket).subscribe({ next: resolve, error: reject }));
  const frame = new Uint8Array(frameBytes).map((_, i) => i & 0xff);
  const frames = Math.ceil((sizeMiB * MiB) / frameBytes);
  const startedAt = performance.now();
  const stream = await connection.openStream('sink/1');
  for (let i = 0; i < frames; i += 1) await stream.write(frame);
  await stream.finish();
  const reply = await stream.read();
  const seconds = (performance.now() - startedAt) / 1000;
  if (!reply || Number(new TextDecoder().decode(reply)) !== frames * frameBytes) throw new Error('the sink counted another number of bytes');
  connection.close('done');
  return (frames * frameBytes) / MiB / seconds;
}

export interface ThroughputFigures {
  /** MiB/s per size, raw binding. */
  readonly raw: Record<number, number[]>;
  /** MiB/s per size, FrameStream with 1 MiB frames. */
  readonly frameStream: Record<number, number[]>;
  /** MiB/s per size, FrameStream with 64 KiB frames. */
  readonly smallFrames: Record<number, number[]>;
  /** ms per MiB for each conversion. */
  readonly conversions: Record<string, number>;
}

/** The cost of the conversions the binding forces, per MiB, on this machine. */
export function conversionCosts(): Record<string, number> {
  const buffer = Buffer.alloc(MiB).map((_, i) => i & 0xff);
  const array = Array.from(buffer);
  const time = (fn: () => unknown, reps = 10): number => {
    fn();
    const t0 = performance.now();
    for (let i = 0; i < reps; i += 1) fn();
    return (performance.now() - t0) / reps;
  };
  return {
    'Array.from(buffer)': time(() => Array.from(buffer), 3),
    'loop into new Array(n) (sending)': time(() => {
      const out = new Array<number>(buffer.length);
      for (let i = 0; i < buffer.length; i += 1) out[i] = buffer[i]!;
      return out;
    }),
    'Uint8Array.from(array) (receiving)': time(() => Uint8Array.from(array)),
  };
}

export async function streamThroughput(sizesMiB: number[], runs: number): Promise<ThroughputFigures> {
  const figures: ThroughputFigures = { raw: {}, frameStream: {}, smallFrames: {}, conversions: conversionCosts() };
  for (const [name, ms] of Object.entries(figures.conversions)) log(`  conversion ${name}: ${ms.toFixed(1)} ms/MiB`);
  const rawPeer = await streamPeer('raw');
  const framedPeer = await streamPeer('transport');
  // Both local endpoints stay referenced here for the whole run: an unreferenced one is collected mid-transfer.
  const builder = iroh.Endpoint.builder();
  iroh.presetMinimal(builder);
  builder.bindAddr('127.0.0.1:0');
  const rawEndpoint = await builder.bind();
  const transport = await IrohTransport.create({ secretKey: generateSecretKey(), deviceName: () => 'bench', relayMode: 'disabled', bindAddress: '127.0.0.1:0' });
  try {
    const rawConnection = await rawEndpoint.connect(iroh.EndpointTicket.fromString(rawPeer.ticket).endpointAddr(), RAW_ALPN);
    // 256 KiB arrays: the best write size measured here for the bare binding.
    const chunk = new Array<number>(RAW_CHUNK_BYTES);
    for (let i = 0; i < RAW_CHUNK_BYTES; i += 1) chunk[i] = i & 0xff;
    for (const size of sizesMiB) {
      figures.raw[size] = [];
      figures.frameStream[size] = [];
      figures.smallFrames[size] = [];
      for (let run = 0; run < runs; run += 1) {
        figures.raw[size].push(await rawRun(rawConnection, chunk, size));
        figures.frameStream[size].push(await frameStreamRun(transport, framedPeer.ticket, MAX_STREAM_FRAME_BYTES, size));
        figures.smallFrames[size].push(await frameStreamRun(transport, framedPeer.ticket, 64 * 1024, size));
      }
      const m = (values: number[]): string => median(values).toFixed(1);
      log(`  ${size} MiB: raw binding ${m(figures.raw[size])} MiB/s, FrameStream 1 MiB frames ${m(figures.frameStream[size])} MiB/s, 64 KiB frames ${m(figures.smallFrames[size])} MiB/s`);
    }
    rawConnection.close(0n, []);
  } finally {
    await transport.close();
    await rawEndpoint.close();
    rawPeer.close();
    framedPeer.close();
  }
  return figures;
}

if (/streams\.js$/.test(process.argv[1] ?? '')) {
  const quick = process.argv.includes('--quick');
  log('Stream throughput, two processes on loopback');
  streamThroughput(quick ? [16] : [16, 64], quick ? 1 : 3).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
