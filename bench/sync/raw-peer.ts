/**
 * The raw binding's throughput over the same link as the sync figures: bare
 * iroh endpoints (no Vault Peers code), prebuilt 256 KiB Array<number> chunks
 * on one bi stream, read to the end on the other side. This is the ceiling
 * any sync over @number0/iroh 1.1.0 meets on this link and machine.
 *
 *   raw-peer.js serve <ip>                 prints {"ticket"} and serves until stdin closes
 *   raw-peer.js send <ip> <ticket> <MiB> <runs>   prints {"mibPerSecond":[...]}
 */
import * as iroh from '@number0/iroh/index.js';

const ALPN = Array.from(Buffer.from('vault-peers-bench/raw'));
const CHUNK = 256 * 1024;
const MiB = 1 << 20;

async function endpoint(ip: string, serve: boolean): Promise<iroh.Endpoint> {
  const builder = iroh.Endpoint.builder();
  iroh.presetMinimal(builder);
  builder.bindAddr(`${ip}:0`);
  // iroh 1.1.0 binds the other family too; keep it on loopback, as the transport does.
  builder.bindAddr('[::1]:0');
  if (serve) builder.alpns([ALPN]);
  return builder.bind();
}

async function serve(ip: string): Promise<void> {
  const ep = await endpoint(ip, true);
  void (async () => {
    for (let incoming = await ep.acceptNext(); incoming; incoming = await ep.acceptNext()) {
      void (async () => {
        const connection = await (await incoming.accept()).connect();
        for (;;) {
          const stream = await connection.acceptBi();
          void (async () => {
            let bytes = 0;
            for (let chunk = await stream.recv.read(CHUNK); chunk.length > 0; chunk = await stream.recv.read(CHUNK)) bytes += chunk.length;
            await stream.send.writeAll(Array.from(Buffer.from(String(bytes))));
            await stream.send.finish();
          })().catch(() => undefined);
        }
      })().catch(() => undefined);
    }
  })().catch(() => undefined);
  process.stdout.write(`${JSON.stringify({ ticket: iroh.EndpointTicket.fromAddr(ep.addr()).toString() })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void ep.close().then(() => process.exit(0)));
}

async function send(ip: string, ticket: string, sizeMiB: number, runs: number): Promise<void> {
  const ep = await endpoint(ip, false);
  const connection = await ep.connect(iroh.EndpointTicket.fromString(ticket).endpointAddr(), ALPN);
  const chunk = new Array<number>(CHUNK);
  for (let i = 0; i < CHUNK; i += 1) chunk[i] = (i * 131) & 0xff;
  const results: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const startedAt = performance.now();
    const stream = await connection.openBi();
    for (let i = 0; i < (sizeMiB * MiB) / CHUNK; i += 1) await stream.send.writeAll(chunk);
    await stream.send.finish();
    const reply = Buffer.from(await stream.recv.readToEnd(64)).toString();
    if (Number(reply) !== sizeMiB * MiB) throw new Error(`the reader counted ${reply} bytes`);
    results.push(sizeMiB / ((performance.now() - startedAt) / 1000));
  }
  connection.close(0n, []);
  await ep.close();
  process.stdout.write(`${JSON.stringify({ mibPerSecond: results })}\n`);
  process.exit(0);
}

const [mode, ip, ...rest] = process.argv.slice(2);
if (mode === 'serve' && ip) void serve(ip);
else if (mode === 'send' && ip && rest.length === 3) {
  send(ip, rest[0]!, Number(rest[1]), Number(rest[2])).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
} else {
  process.stderr.write('usage: raw-peer.js serve <ip> | send <ip> <ticket> <MiB> <runs>\n');
  process.exit(64);
}
