/**
 * A child process hosting N iroh endpoints on loopback that accept anyone:
 * the "devices already online" of the start-up benchmark, or hostile peers.
 * argv[2]: JSON { count }. Prints one JSON line { tickets, nodeIds } when ready;
 * exits when stdin closes.
 */
import { IrohTransport, generateSecretKey } from '../src/transport/iroh-transport';

async function main(): Promise<void> {
  const { count } = JSON.parse(process.argv[2] ?? '{"count":1}') as { count: number };
  const transports = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      IrohTransport.create({ secretKey: generateSecretKey(), deviceName: () => `host-${i}`, relayMode: 'disabled', bindAddress: '127.0.0.1:0' }),
    ),
  );
  for (const transport of transports) transport.incoming$.subscribe((connection) => connection.accept?.());
  process.stdout.write(`${JSON.stringify({ tickets: await Promise.all(transports.map((t) => t.generateTicket())), nodeIds: transports.map((t) => t.nodeId) })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    void Promise.all(transports.map((t) => t.close())).then(() => process.exit(0));
  });
}

void main();
