import { firstValueFrom, take, timeout, type Observable } from 'rxjs';
import * as iroh from '@number0/iroh/index.js';
import { ALPN, PROTOCOL_VERSION, encodeFrame, type ControlMessage } from '../../src/transport/control-protocol';
import { IrohTransport, generateSecretKey, type IrohTransportOptions } from '../../src/transport/iroh-transport';

/** A real iroh transport on loopback, with no relay and no discovery: nothing leaves this machine. */
export async function loopbackTransport(name: string, options: Partial<IrohTransportOptions> = {}): Promise<IrohTransport> {
  return IrohTransport.create({
    secretKey: generateSecretKey(),
    deviceName: () => name,
    relayMode: 'disabled',
    bindAddress: '127.0.0.1:0',
    ...options,
  });
}

export function next<T>(source: Observable<T>, ms = 10_000): Promise<T> {
  return firstValueFrom(source.pipe(take(1), timeout(ms)));
}

/** Timer and socket handles Node holds, by kind, to check that closing left nothing running. */
export function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}

export const ALPN_BYTES = Array.from(Buffer.from(ALPN));

/** A bare iroh endpoint speaking our ALPN on loopback, for peers that misbehave on purpose. */
export function rawLoopbackEndpoint(): Promise<iroh.Endpoint> {
  const builder = iroh.Endpoint.builder();
  iroh.presetMinimal(builder);
  builder.bindAddr('127.0.0.1:0');
  builder.alpns([ALPN_BYTES]);
  return builder.bind();
}

export function ticketOf(endpoint: iroh.Endpoint): string {
  return iroh.EndpointTicket.fromAddr(endpoint.addr()).toString();
}

/** Control messages as the binding takes them. */
export function controlBytes(...messages: ControlMessage[]): number[] {
  return Array.from(Buffer.concat(messages.map((m) => encodeFrame(m))));
}

/** A hello or welcome's fields for a raw peer. */
export function about(name: string, extra: { relay?: string | null; version?: number } = {}) {
  return { version: extra.version ?? PROTOCOL_VERSION, name, instance: `${name.toLowerCase()}1`, addresses: [], relay: extra.relay ?? null } as const;
}

/** Everything a raw stream receives until it ends or its connection closes. */
export async function readAll(recv: iroh.RecvStream): Promise<Buffer> {
  const chunks: number[][] = [];
  for (;;) {
    const chunk = await recv.read(65_536).catch(() => [] as number[]);
    if (chunk.length === 0) return Buffer.from(chunks.flat());
    chunks.push(chunk);
  }
}

/**
 * A raw iroh endpoint that accepts one connection and plays the acceptor's
 * part with `script`; resolves with what `script` returns. The endpoint stays
 * referenced here (an unreferenced one is collected mid-transfer).
 */
export async function rawAcceptor<T>(script: (raw: iroh.Connection, stream: iroh.BiStream) => Promise<T>): Promise<{ ticket: string; result: Promise<T>; close(): Promise<void> }> {
  const endpoint = await rawLoopbackEndpoint();
  const result = (async () => {
    const raw = await (await (await endpoint.acceptNext())!.accept()).connect();
    const stream = await raw.acceptBi();
    return script(raw, stream);
  })();
  result.catch(() => undefined);
  return { ticket: ticketOf(endpoint), result, close: () => endpoint.close() };
}
