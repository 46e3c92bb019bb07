import * as iroh from '@number0/iroh/index.js';
import { REASON_NOT_PAIRED, REASON_SHUTTING_DOWN } from '../../src/core/messages';
import { Subscription, firstValueFrom, tap, toArray } from 'rxjs';
import { InvalidTicketError, VaultPeersError } from '../../src/core/errors';
import type { PeerConnection } from '../../src/core/ports';
import { encodeFrame, PROTOCOL_VERSION } from '../../src/transport/control-protocol';
import {
  IrohTransport,
  closeReasonText,
  generateSecretKey,
  irohErrorMessage,
  nodeIdOfSecretKey,
  parseIrohTicket,
} from '../../src/transport/iroh-transport';
import { activeTimers, loopbackTransport, next, rawLoopbackEndpoint } from '../support/iroh';

jest.setTimeout(30_000);

const open: IrohTransport[] = [];
async function transport(name: string, options: Parameters<typeof loopbackTransport>[1] = {}): Promise<IrohTransport> {
  const created = await loopbackTransport(name, options);
  open.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function pair(): Promise<{ a: IrohTransport; b: IrohTransport; outgoing: PeerConnection; incoming: PeerConnection }> {
  const a = await transport('Laptop');
  const b = await transport('Desktop');
  // The acceptor's core would accept a known peer; here the spec does.
  const incoming = next(b.incoming$.pipe(tap((connection) => connection.accept?.())));
  const outgoing = await next(a.connect(await b.generateTicket()));
  return { a, b, outgoing, incoming: await incoming };
}

describe('IrohTransport over loopback', () => {
  it('keeps the node id that follows from the stored key', async () => {
    const key = generateSecretKey();
    const first = await transport('x', { secretKey: key });
    const id = first.nodeId;
    await first.close();
    const second = await transport('x', { secretKey: key });
    expect(second.nodeId).toBe(id);
    expect(nodeIdOfSecretKey(key)).toBe(id);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
  });

  it('connects with a ticket; both ends learn the other, authenticated, with its hello', async () => {
    const { a, b, outgoing, incoming } = await pair();
    expect(outgoing).toMatchObject({ remoteNodeId: b.nodeId, direction: 'outgoing', remoteName: 'Desktop' });
    expect(incoming).toMatchObject({ remoteNodeId: a.nodeId, direction: 'incoming', remoteName: 'Laptop' });
    expect(outgoing.remoteInstanceId).toMatch(/^[0-9a-f]{24}$/);
    expect(a.parseTicket(await b.generateTicket()).nodeId).toBe(b.nodeId);
  });

  it('builds a fresh ticket from the addresses the peer reports', async () => {
    const { b, outgoing } = await pair();
    const ticket = outgoing.remoteTicket!;
    expect(parseIrohTicket(ticket).nodeId).toBe(b.nodeId);
    const reported = iroh.EndpointTicket.fromString(ticket).endpointAddr().directAddresses();
    expect(reported).toEqual(expect.arrayContaining([b.boundSockets.find((s) => s.startsWith('127.0.0.1'))]));
  });

  it('a graceful close reaches the other side with its reason', async () => {
    const { outgoing, incoming } = await pair();
    const seen = next(incoming.closed$);
    outgoing.close('Removed on the other device.');
    await expect(seen).resolves.toBe('Removed on the other device.');
    await expect(next(outgoing.closed$)).resolves.toBe('Removed on the other device.');
  });

  it('refuses a node that is not allowed before reading anything, and tells the dialler why', async () => {
    const a = await transport('Laptop');
    const b = await transport('Desktop', { acceptNode: () => false });
    const refused = next(b.refused$);
    const received: PeerConnection[] = [];
    b.incoming$.subscribe((c) => received.push(c));
    const error = await next(a.connect(await b.generateTicket())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VaultPeersError);
    expect((error as Error).message).toBe(REASON_NOT_PAIRED);
    await expect(refused).resolves.toEqual({ nodeId: a.nodeId, reason: REASON_NOT_PAIRED });
    expect(received).toEqual([]);
  });

  it('ends a connection with an incompatible protocol version with a clear error on both sides', async () => {
    const a = await transport('Laptop', { protocolVersion: PROTOCOL_VERSION + 1 });
    const b = await transport('Desktop');
    const refused = next(b.refused$);
    const error = (await next(a.connect(await b.generateTicket())).catch((e: unknown) => e)) as Error;
    // a speaks the newer protocol: a is told to update the other device, b to update itself.
    expect(error.message).toMatch(/^Incompatible Vault Peers versions: this device speaks protocol 2, the other 1\. Update Vault Peers on the other device\.$/);
    await expect(refused).resolves.toEqual({ nodeId: a.nodeId, reason: expect.stringMatching(/this device speaks protocol 1, the other 2\. Update Vault Peers on this device\.$/) });
  });

  it('closing the transport closes its connections (the peer hears why) and leaves nothing running', async () => {
    const timersBefore = activeTimers();
    const { a, b, outgoing, incoming } = await pair();
    const heard = next(incoming.closed$);
    await a.close();
    await expect(heard).resolves.toBe(REASON_SHUTTING_DOWN);
    await expect(next(outgoing.closed$)).resolves.toBe(REASON_SHUTTING_DOWN);
    await b.close();
    expect([a.connectionCount, a.pendingCount, b.connectionCount, b.pendingCount]).toEqual([0, 0, 0, 0]);
    expect(activeTimers()).toBeLessThanOrEqual(timersBefore);
    await expect(firstValueFrom(a.incoming$.pipe(toArray()))).resolves.toEqual([]);
  });

  it('a dial cancelled before it lands leaves no connection behind', async () => {
    const a = await transport('Laptop');
    const b = await transport('Desktop');
    const subscription: Subscription = a.connect(await b.generateTicket()).subscribe();
    subscription.unsubscribe();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(a.connectionCount).toBe(0);
    expect(a.pendingCount).toBe(0);
  });

  it('falls back to a random port when the chosen one is taken', async () => {
    const a = await transport('Laptop');
    const taken = a.boundSockets.find((s) => s.startsWith('127.0.0.1'))!;
    const b = await transport('Desktop', { bindAddress: taken });
    expect(b.usedFallbackPort).toBe(true);
    expect(b.boundSockets).not.toContain(taken);
  });

  it('notices a peer that stops answering, by its missing heartbeats', async () => {
    const a = await transport('Laptop', { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1_000 });
    // A peer that says hello and then goes silent, as a frozen or killed process would.
    const silent = await rawLoopbackEndpoint();
    const held: unknown[] = [];
    try {
      const accepted = (async () => {
        const raw = await (await (await silent.acceptNext())!.accept()).connect();
        const stream = await raw.acceptBi();
        held.push(stream);
        await stream.recv.read(4_096);
        const hello = { type: 'hello', version: PROTOCOL_VERSION, name: 'Silent', instance: 'x1', addresses: [], relay: null } as const;
        await stream.send.writeAll(Array.from(Buffer.concat([encodeFrame(hello), encodeFrame({ type: 'welcome' })])));
        return raw;
      })();
      const connection = await next(a.connect(iroh.EndpointTicket.fromAddr(silent.addr()).toString()));
      await accepted;
      await expect(next(connection.closed$, 5_000)).resolves.toMatch(/stopped answering/);
    } finally {
      await silent.close();
    }
  });

  it('closes a connection whose peer sends an oversized control message', async () => {
    const a = await transport('Laptop');
    const hostile = await rawLoopbackEndpoint();
    try {
      void (async () => {
        const raw = await (await (await hostile.acceptNext())!.accept()).connect();
        const stream = await raw.acceptBi();
        const hello = { type: 'hello', version: PROTOCOL_VERSION, name: 'Hostile', instance: 'h1', addresses: [], relay: null } as const;
        await stream.send.writeAll(Array.from(Buffer.concat([encodeFrame(hello), encodeFrame({ type: 'welcome' })])));
        await new Promise((resolve) => setTimeout(resolve, 200));
        const huge = Buffer.alloc(4);
        huge.writeUInt32BE(1_000_000_000, 0);
        await stream.send.writeAll(Array.from(huge));
      })().catch(() => undefined);
      const connection = await next(a.connect(iroh.EndpointTicket.fromAddr(hostile.addr()).toString()));
      await expect(next(connection.closed$, 5_000)).resolves.toMatch(/Protocol error: .*bytes/);
    } finally {
      await hostile.close();
    }
  });
});

describe('tickets', () => {
  let ticket: string;
  beforeAll(async () => {
    const t = await loopbackTransport('x');
    ticket = await t.generateTicket();
    await t.close();
  });

  it('parses a real ticket, ignoring surrounding whitespace', () => {
    expect(parseIrohTicket(`  ${ticket}\n`).nodeId).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['empty', () => '', 'empty'],
    ['blank', () => '   ', 'empty'],
    ['truncated', () => ticket.slice(0, 40), 'incomplete'],
    ['wrong prefix', () => `nodeticket${ticket.slice(8)}`, 'does not start with "endpoint"'],
    ['random bytes', () => Buffer.from(Array.from({ length: 60 }, (_, i) => (i * 37) % 256)).toString('latin1'), 'not a valid'],
    ['far too long', () => `endpoint${'a'.repeat(5_000)}`, 'far too long'],
  ])('refuses a %s ticket with a typed error a person can act on', (_label, make, says) => {
    const error = (() => {
      try {
        parseIrohTicket(make());
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(InvalidTicketError);
    expect((error as Error).message).toContain(says);
    expect((error as Error).message).not.toMatch(/\.rs:|backtrace/i);
  });

  it('strips Rust locations and backtraces from iroh errors', () => {
    expect(irohErrorMessage(new Error('ConnectError::Connecting (/x/iroh-1.0.2/src/endpoint.rs:1060:20)\nCaused by:\n  timed out'))).toBe(
      'ConnectError::Connecting',
    );
    expect(closeReasonText('closed by peer: bye now (code 7)')).toBe('bye now');
  });
});
