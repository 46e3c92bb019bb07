/**
 * A child process for stream specs and the stream benchmark, on loopback.
 * argv[2]: JSON { mode: 'transport' | 'raw' }. Prints one JSON line
 * { ticket, nodeId } when ready; exits when stdin closes.
 *
 * transport: a Vault Peers transport that accepts anyone and serves
 *   `echo/1` (each frame sent back; finish when the other side finishes) and
 *   `sink/1` (frames read and counted; at the end, one frame with the count
 *   as a decimal string).
 * raw: a bare iroh endpoint whose bi streams are read to the end, then
 *   answered with the byte count as a decimal string: the binding's own
 *   throughput, without framing or conversions.
 */
import * as iroh from '@number0/iroh/index.js';
import type { FrameStream } from '../src/core/ports';
import { IrohTransport, generateSecretKey } from '../src/transport/iroh-transport';

const RAW_ALPN = Array.from(Buffer.from('vault-peers-bench/raw'));
/** The read size that did best here for the raw binding (as FrameStream's own). */
const READ_BYTES = 256 * 1024;

async function serveEcho(stream: FrameStream): Promise<void> {
  for (let frame = await stream.read(); frame; frame = await stream.read()) await stream.write(frame);
  await stream.finish();
}

async function serveSink(stream: FrameStream): Promise<void> {
  let bytes = 0;
  for (let frame = await stream.read(); frame; frame = await stream.read()) bytes += frame.length;
  await stream.write(new TextEncoder().encode(String(bytes)));
  await stream.finish();
}

async function transportPeer(): Promise<{ ticket: string; nodeId: string; close(): Promise<void> }> {
  const transport = await IrohTransport.create({ secretKey: generateSecretKey(), deviceName: () => 'stream-peer', relayMode: 'disabled', bindAddress: '127.0.0.1:0' });
  transport.incoming$.subscribe((connection) => {
    connection.incomingStreams('echo/1').subscribe((s) => void serveEcho(s).catch(() => s.reset()));
    connection.incomingStreams('sink/1').subscribe((s) => void serveSink(s).catch(() => s.reset()));
    connection.accept?.();
  });
  return { ticket: await transport.generateTicket(), nodeId: transport.nodeId, close: () => transport.close() };
}

async function rawPeer(): Promise<{ ticket: string; nodeId: string; close(): Promise<void> }> {
  const builder = iroh.Endpoint.builder();
  iroh.presetMinimal(builder);
  builder.bindAddr('127.0.0.1:0');
  builder.alpns([RAW_ALPN]);
  const endpoint = await builder.bind();
  void (async () => {
    for (let incoming = await endpoint.acceptNext(); incoming; incoming = await endpoint.acceptNext()) {
      void (async () => {
        const connection = await (await incoming.accept()).connect();
        for (;;) {
          const stream = await connection.acceptBi();
          void (async () => {
            let bytes = 0;
            for (let chunk = await stream.recv.read(READ_BYTES); chunk.length > 0; chunk = await stream.recv.read(READ_BYTES)) bytes += chunk.length;
            await stream.send.writeAll(Array.from(Buffer.from(String(bytes))));
            await stream.send.finish();
          })().catch(() => undefined);
        }
      })().catch(() => undefined);
    }
  })().catch(() => undefined);
  return { ticket: iroh.EndpointTicket.fromAddr(endpoint.addr()).toString(), nodeId: endpoint.id().toString(), close: () => endpoint.close() };
}

export { RAW_ALPN };

async function main(): Promise<void> {
  const { mode } = JSON.parse(process.argv[2] ?? '{"mode":"transport"}') as { mode: 'transport' | 'raw' };
  const peer = mode === 'raw' ? await rawPeer() : await transportPeer();
  process.stdout.write(`${JSON.stringify({ ticket: peer.ticket, nodeId: peer.nodeId })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    void peer.close().then(() => process.exit(0));
  });
}

if (/stream-peer\.js$/.test(process.argv[1] ?? '')) void main();
