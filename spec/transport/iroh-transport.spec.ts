import { spawn } from 'node:child_process';
import { join } from 'node:path';
import * as iroh from '@number0/iroh/index.js';
import { Subscription, firstValueFrom, tap, toArray } from 'rxjs';
import { InvalidTicketError, PeerRefusedError } from '../../src/core/errors';
import { REASON_BUSY, REASON_NOT_PAIRED, REASON_REMOVED_BY_PEER, REASON_SHUTTING_DOWN, REFUSED_UNKNOWN_INVITE } from '../../src/core/messages';
import type { PeerConnection } from '../../src/core/ports';
import { FrameDecoder, PROTOCOL_VERSION } from '../../src/transport/control-protocol';
import { RelayPolicy, dialAddress } from '../../src/transport/tickets';
import type { ConnectionDiagnostics } from '../../src/transport/diagnostics';
import { lostConnectionText } from '../../src/transport/iroh-errors';
import {
  IrohTransport,
  closeReasonText,
  generateSecretKey,
  irohErrorMessage,
  nodeIdOfSecretKey,
  parseIrohTicket,
} from '../../src/transport/iroh-transport';
import { ALPN_BYTES, about, activeTimers, controlBytes, loopbackTransport, next, rawAcceptor, rawLoopbackEndpoint, readAll } from '../support/iroh';

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

  it('connects with a ticket; both ends learn the other, authenticated, with its hello and welcome', async () => {
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

  it('closing the transport closes its connections (the peer hears why) and leaves nothing running', async () => {
    const timersBefore = activeTimers();
    const { a, b, outgoing, incoming } = await pair();
    const heard = next(incoming.closed$);
    await a.close();
    await expect(heard).resolves.toBe(REASON_SHUTTING_DOWN);
    await expect(next(outgoing.closed$)).resolves.toBe(REASON_SHUTTING_DOWN);
    await b.close();
    expect([a.connectionCount, a.pendingCount, b.connectionCount, b.pendingCount]).toEqual([0, 0, 0, 0]);
    // Timers of earlier specs' connections may still be running out: wait for the count to settle.
    for (let i = 0; i < 50 && activeTimers() > timersBefore; i += 1) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(activeTimers()).toBeLessThanOrEqual(timersBefore);
    await expect(firstValueFrom(a.incoming$.pipe(toArray()))).resolves.toEqual([]);
  });

  it('an accepted connection keeps no timer for the decision it no longer waits for', async () => {
    const a = await transport('Laptop');
    const b = await transport('Desktop');
    const arrived = next(b.incoming$);
    const dialled = next(a.connect(await b.generateTicket()));
    const incoming = await arrived;
    const before = activeTimers();
    incoming.accept?.();
    // The heartbeat's interval and silence timers start; the decision timer stops.
    expect(activeTimers()).toBe(before + 1);
    await dialled;
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
});

describe('the handshake: a device learns about this one only once accepted', () => {
  it('asks the gate with the node id and the invite secret it presents', async () => {
    const asked: [string, string | undefined][] = [];
    const a = await transport('Laptop');
    const b = await transport('Desktop', { acceptNode: (nodeId, secret) => (asked.push([nodeId, secret]), true) });
    b.incoming$.subscribe((c) => c.accept?.());
    await next(a.connect(await b.generateTicket(), { inviteSecret: '0123456789abcdef0123456789abcdef' }));
    await next(a.connect(await b.generateTicket()));
    expect(asked).toEqual([
      [a.nodeId, '0123456789abcdef0123456789abcdef'],
      [a.nodeId, undefined],
    ]);
  });

  it('refuses a node the gate turns away, and tells the dialler only that it is not paired', async () => {
    const a = await transport('Laptop');
    const b = await transport('Desktop', { acceptNode: () => false });
    const refused = next(b.refused$);
    const received: PeerConnection[] = [];
    b.incoming$.subscribe((c) => received.push(c));
    const error = await next(a.connect(await b.generateTicket())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PeerRefusedError);
    expect((error as Error).message).toBe(REASON_NOT_PAIRED);
    await expect(refused).resolves.toEqual({ nodeId: a.nodeId, reason: REASON_NOT_PAIRED });
    expect(received).toEqual([]);
  });

  it.each([
    // It presented an invite this device does not know: it hears that, and nothing about this device.
    ['the gate refuses it', { acceptNode: () => false }, false, REFUSED_UNKNOWN_INVITE],
    ['the gate lets it in (an invite is open) and the host then refuses it', {}, true, REASON_NOT_PAIRED],
  ])('a raw stranger receives no name and no address when %s: nothing but the refusal', async (_label, options, hostRefuses, told) => {
    const b = await transport('Secret Desktop Name', options);
    if (hostRefuses) b.incoming$.subscribe((c) => c.close(REASON_NOT_PAIRED, 'refused'));
    const stranger = await rawLoopbackEndpoint();
    try {
      const raw = await stranger.connect(iroh.EndpointTicket.fromString(await b.generateTicket()).endpointAddr(), ALPN_BYTES);
      const stream = await raw.openBi();
      await stream.send.writeAll(controlBytes({ type: 'hello', ...about('Stranger'), invite: 'ffffffffffffffffffffffffffffffff' }));
      const received = await readAll(stream.recv);
      const reason = await raw.closed();
      expect(received.length).toBe(0);
      expect(reason).toBe(`closed by peer: ${told} (code 3)`);
      const port = b.boundSockets[0]!.split(':').pop()!;
      expect(reason).not.toMatch(new RegExp(`Secret|${port}`));
    } finally {
      await stranger.close();
    }
  });

  it('closes on a connection that never says hello, telling it nothing', async () => {
    const b = await transport('Desktop', { helloTimeoutMs: 300 });
    const received: PeerConnection[] = [];
    b.incoming$.subscribe((c) => received.push(c));
    const mute = await rawLoopbackEndpoint();
    try {
      const raw = await mute.connect(iroh.EndpointTicket.fromString(await b.generateTicket()).endpointAddr(), ALPN_BYTES);
      await expect(raw.closed()).resolves.toBe('closed by peer: Protocol error: the other device did not say hello in time. (code 1)');
      expect(received).toEqual([]);
    } finally {
      await mute.close();
    }
  });

  it('the dialler gets the acceptor name and addresses only in the welcome, after the host accepted', async () => {
    const a = await transport('Laptop');
    const b = await transport('Desktop');
    let accept: () => void = () => undefined;
    b.incoming$.subscribe((c) => (accept = () => c.accept?.()));
    let settled = false;
    const dialled = next(a.connect(await b.generateTicket())).finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false);
    accept();
    await expect(dialled).resolves.toMatchObject({ remoteName: 'Desktop' });
  });

  it('ends a connection with an incompatible protocol version with a clear error on both sides', async () => {
    const a = await transport('Laptop', { protocolVersion: PROTOCOL_VERSION + 1 });
    const b = await transport('Desktop');
    const refused = next(b.refused$);
    const error = (await next(a.connect(await b.generateTicket())).catch((e: unknown) => e)) as Error;
    // a speaks the newer protocol: a is told to update the other device, b to update itself.
    expect(error.message).toBe(`Incompatible Vault Peers versions: this device speaks protocol ${PROTOCOL_VERSION + 1}, the other ${PROTOCOL_VERSION}. Update Vault Peers on the other device.`);
    await expect(refused).resolves.toEqual({
      nodeId: a.nodeId,
      reason: `Incompatible Vault Peers versions: this device speaks protocol ${PROTOCOL_VERSION}, the other ${PROTOCOL_VERSION + 1}. Update Vault Peers on this device.`,
    });
  });

  it('tells a device dialling a protocol 1 peer (which says hello first) which device to update', async () => {
    const a = await transport('Laptop');
    const old = await rawAcceptor(async (raw, stream) => {
      await stream.send.writeAll(controlBytes({ type: 'hello', ...about('Old', { version: 1 }) }));
      return raw.closed();
    });
    try {
      const error = (await next(a.connect(old.ticket)).catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(PeerRefusedError);
      expect(error.message).toBe(`Incompatible Vault Peers versions: this device speaks protocol ${PROTOCOL_VERSION}, the other 1. Update Vault Peers on the other device.`);
      await expect(old.result).resolves.toMatch(/this device speaks protocol 1, the other 2\. Update Vault Peers on this device\. \(code 2\)$/);
    } finally {
      await old.close();
    }
  });

  it('tells a device turned away before its handshake (too many strangers) to try again later', async () => {
    const a = await transport('Laptop');
    const b = await transport('Desktop', { admission: { perSourceBurst: 0 } });
    const error = (await next(a.connect(await b.generateTicket())).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe(REASON_BUSY);
    // Nothing kept running for it (the refusal may reach the dialler before the refusing call returns here).
    for (let i = 0; i < 100 && b.pendingCount > 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(b.pendingCount).toBe(0);
  });

  it('drops a relay URL a peer announces that is not one this device uses', async () => {
    const a = await transport('Laptop');
    const announced = await rawAcceptor(async (_raw, stream) => {
      await stream.send.writeAll(controlBytes({ type: 'welcome', ...about('Peer', { relay: 'https://evil.example:4444/' }), addresses: ['127.0.0.1:9'] }));
      return stream;
    });
    try {
      const connection = await next(a.connect(announced.ticket));
      const reported = iroh.EndpointTicket.fromString(connection.remoteTicket!).endpointAddr();
      expect(reported.relayUrl()).toBeNull();
      expect(reported.directAddresses()).toEqual(['127.0.0.1:9']);
      connection.close('done');
    } finally {
      await announced.close();
    }
  });
});

describe('failure detection', () => {
  const fast = { intervalMs: 200, lateMs: 300, probeMs: 100, probes: 2, maxQuietMs: 3_000 };

  it('a peer that stops answering while its network stack still acknowledges (a busy process): probed, watched again, gone after maxQuietMs', async () => {
    const sent: ConnectionDiagnostics[] = [];
    const a = await transport('Laptop', { heartbeat: fast, diagnostics: { connectionOpened: (_c, d) => void sent.push(d) } });
    // A peer that says welcome and then never writes again; iroh underneath it still acknowledges every packet.
    const silent = await rawAcceptor(async (_raw, stream) => {
      await stream.recv.read(4_096);
      await stream.send.writeAll(controlBytes({ type: 'welcome', ...about('Silent') }));
      return stream;
    });
    try {
      const connection = await next(a.connect(silent.ticket));
      // Each round: 300 ms late + 2 probes of 100 ms; rounds go on while packets arrive, up to 3 s of silence.
      await expect(next(connection.closed$, 8_000)).resolves.toMatch(/^The other device stopped answering \(nothing heard for 3\.\d s\)\.$/);
      expect(sent[0]!.sent.probe).toBeGreaterThanOrEqual(6);
    } finally {
      await silent.close();
    }
  });

  it('keeps a peer that answers probes, even if it never pings by itself', async () => {
    const sent: ConnectionDiagnostics[] = [];
    const a = await transport('Laptop', { heartbeat: fast, diagnostics: { connectionOpened: (_c, d) => void sent.push(d) } });
    const answering = await rawAcceptor(async (_raw, stream) => {
      const decoder = new FrameDecoder();
      await stream.send.writeAll(controlBytes({ type: 'welcome', ...about('Quiet') }));
      for (;;) {
        const chunk = await stream.recv.read(4_096).catch(() => [] as number[]);
        if (chunk.length === 0) return;
        for (const message of decoder.push(chunk)) if ((message as { type: string }).type === 'probe') await stream.send.writeAll(controlBytes({ type: 'ping' }));
      }
    });
    try {
      const connection = await next(a.connect(answering.ticket));
      const closed = jest.fn();
      connection.closed$.subscribe(closed);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(closed).not.toHaveBeenCalled();
      expect(sent[0]!.sent.probe).toBeGreaterThanOrEqual(3);
      connection.close('done');
    } finally {
      await answering.close();
    }
  });

  it('answers a probe at once, between its own pings', async () => {
    const b = await transport('Desktop', { heartbeat: { intervalMs: 60_000, lateMs: 120_000 } });
    b.incoming$.subscribe((c) => c.accept?.());
    const prober = await rawLoopbackEndpoint();
    try {
      const raw = await prober.connect(iroh.EndpointTicket.fromString(await b.generateTicket()).endpointAddr(), ALPN_BYTES);
      const stream = await raw.openBi();
      await stream.send.writeAll(controlBytes({ type: 'hello', ...about('Prober') }));
      await stream.recv.read(4_096); // the welcome
      const askedAt = performance.now();
      await stream.send.writeAll(controlBytes({ type: 'probe' }));
      const answer = Buffer.from(await stream.recv.read(4_096));
      expect(performance.now() - askedAt).toBeLessThan(1_000);
      expect(JSON.parse(answer.subarray(4).toString())).toEqual({ type: 'ping' });
      raw.close(0n, []);
    } finally {
      await prober.close();
    }
  });

  it.each([['killed with kill -9', 'SIGKILL'] as const, ['frozen with SIGSTOP', 'SIGSTOP'] as const])('notices a peer process %s', async (_what, signal) => {
    const a = await transport('Laptop');
    const child = spawn(process.execPath, [join(__dirname, '..', '..', 'dist', 'bench', 'host.js'), JSON.stringify({ count: 1 })], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const { tickets } = await new Promise<{ tickets: string[] }>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as { tickets: string[] });
        });
        child.once('exit', (code) => reject(new Error(`host exited with ${code}`)));
      });
      const connection = await next(a.connect(tickets[0]!));
      const closed = next(connection.closed$, 15_000);
      child.kill(signal);
      // Nothing arrives from a killed or stopped process, not even acknowledgements: noticed within 2 s.
      await expect(closed).resolves.toMatch(/^The other device stopped answering \(nothing heard for 1\.\d s\)\.$/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('closes a connection whose peer sends an oversized control message', async () => {
    const a = await transport('Laptop');
    const hostile = await rawAcceptor(async (_raw, stream) => {
      await stream.send.writeAll(controlBytes({ type: 'welcome', ...about('Hostile') }));
      await new Promise((resolve) => setTimeout(resolve, 200));
      await stream.send.writeAll([0x3b, 0x9a, 0xca, 0x00]); // 1,000,000,000 bytes announced
      return stream;
    });
    try {
      const connection = await next(a.connect(hostile.ticket));
      await expect(next(connection.closed$, 5_000)).resolves.toMatch(/^Protocol error: .*1000000000 bytes/);
    } finally {
      await hostile.close();
    }
  });
});

describe('binding', () => {
  it.each([
    ['127.0.0.1:0', /^(127\.0\.0\.1|\[::1\]):\d+$/],
    ['[::1]:0', /^(127\.0\.0\.1|\[::1\]):\d+$/],
  ])('binds %s and nothing reachable from another machine', async (bindAddress, allowed) => {
    const t = await transport('Laptop', { bindAddress });
    expect(t.boundSockets.length).toBeGreaterThan(0);
    for (const socket of t.boundSockets) expect(socket).toMatch(allowed);
    const host = bindAddress.replace(/:0$/, '');
    expect(t.boundSockets.some((s) => s.startsWith(host))).toBe(true);
    // Only the asked address is handed out.
    expect(iroh.EndpointTicket.fromString(await t.generateTicket()).endpointAddr().directAddresses().every((a) => a.startsWith(`${host}:`))).toBe(true);
    expect(t.localAddress().addresses.every((a) => a.startsWith(`${host}:`))).toBe(true);
  });

  it('binds every interface of both families for an unspecified address', async () => {
    const t = await transport('Laptop', { bindAddress: '0.0.0.0:0' });
    expect(t.boundSockets.some((s) => s.startsWith('0.0.0.0:'))).toBe(true);
  });

  it('a device bound to IPv6 loopback only is reached over it', async () => {
    const a = await transport('Laptop', { bindAddress: '[::1]:0' });
    const b = await transport('Desktop', { bindAddress: '[::1]:0' });
    b.incoming$.subscribe((c) => c.accept?.());
    await expect(next(a.connect(await b.generateTicket()))).resolves.toMatchObject({ remoteName: 'Desktop' });
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

  it.each([
    ['ConnectionLost(ApplicationClosed(ApplicationClose { error_code: 4, reason: b"\\x1b[31mgone" }))', REASON_REMOVED_BY_PEER],
    ['ConnectionLost(ApplicationClosed(ApplicationClose { error_code: 3, reason: b"" }))', 'The other device refused the connection.'],
    ['ConnectionLost(ApplicationClosed(ApplicationClose { error_code: 3, reason: b"\\"../x.md\\" leaves the synced folder \\xe2\\x80\\x94 refused." }))', 'The other device refused the connection: "../x.md" leaves the synced folder \u2014 refused.'],
    ['ConnectionLost(ApplicationClosed(ApplicationClose { error_code: 0, reason: b"bye\\nnow\\x1b[2J" }))', 'The other device closed the connection: bye now [2J'],
    ['ConnectionLost(TimedOut)', 'The other device stopped answering.'],
    ['ConnectionLost(LocallyClosed)', 'The connection was closed on this device.'],
    ['ConnectionLost(Reset)', 'The connection to the other device was lost.'],
  ])('words a lost connection for a person, without iroh debug text: %s', (raw, sentence) => {
    expect(lostConnectionText(raw)).toBe(sentence);
  });

  it('leaves other stream errors to the caller', () => {
    expect(lostConnectionText('Stopped(7)')).toBeNull();
  });

  it('dials a stored ticket without a relay this device does not use', async () => {
    const id = iroh.SecretKey.generate().public();
    const stored = iroh.EndpointTicket.fromAddr(new iroh.EndpointAddr(id, 'https://evil.example:4444', ['127.0.0.1:5'])).toString();
    const address = dialAddress(stored, new RelayPolicy('disabled'));
    expect(address.relayUrl()).toBeNull();
    expect(address.directAddresses()).toEqual(['127.0.0.1:5']);
  });
});

