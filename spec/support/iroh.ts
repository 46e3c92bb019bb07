import { firstValueFrom, take, timeout, type Observable } from 'rxjs';
import * as iroh from '@number0/iroh/index.js';
import { ALPN } from '../../src/transport/control-protocol';
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

/** A bare iroh endpoint speaking our ALPN on loopback, for peers that misbehave on purpose. */
export function rawLoopbackEndpoint(): Promise<iroh.Endpoint> {
  const builder = iroh.Endpoint.builder();
  iroh.presetMinimal(builder);
  builder.bindAddr('127.0.0.1:0');
  builder.alpns([Array.from(Buffer.from(ALPN))]);
  return builder.bind();
}
