import { Observable, lastValueFrom, map, of, tap, throwError } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { PeerRefusedError } from '../../../src/core/errors';
import {
  REASON_AWAITING_APPROVAL,
  REASON_NOT_PAIRED,
  REFUSED_UNKNOWN_INVITE,
  REFUSED_USED_INVITE,
} from '../../../src/core/messages';
import { MAX_PENDING_REQUESTS, REQUEST_REPEAT_MS } from '../../../src/core/pairing/access';
import { INVITE_MEMORY_MS } from '../../../src/core/pairing/invite-book';
import { parseInvite } from '../../../src/core/pairing/invite-codec';
import { verificationCode } from '../../../src/core/pairing/verification-code';
import { PeerManager, type PeerManagerEvent } from '../../../src/core/peer-manager';
import type { PeerConnection } from '../../../src/core/ports';
import { FakeConnection, FakeSyncEngine, FakeTransport, MemoryStorage, fakeSecret } from '../../support/fakes';
import { LOCAL_ID, harness, storedPeer } from '../../support/manager-harness';
import { newTestScheduler } from '../../support/marbles';

const connectsAtOnce = (nodeId: string): Observable<PeerConnection> => of(new FakeConnection(nodeId, 'outgoing'));

async function inviter(storage = new MemoryStorage()) {
  const transport = new FakeTransport(LOCAL_ID, connectsAtOnce);
  let n = 0;
  const manager = await PeerManager.open({
    transport,
    syncEngine: new FakeSyncEngine(),
    storage,
    deviceName: () => 'Laptop',
    newSecret: () => fakeSecret(`secret${(n += 1)}`),
  });
  return { manager, transport, storage };
}

/** Resolves once `condition` holds, checking on each turn of the event loop (a background save is on a timer). */
async function until(condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('pairing with invites', () => {
  it('an invite names this device and its address, and pairs the device that presents its secret', async () => {
    const { manager, transport, storage } = await inviter();
    const invite = manager.pairing.createInvite();
    expect(parseInvite(invite.text)).toMatchObject({ inviterName: 'Laptop', address: { nodeId: LOCAL_ID }, secret: fakeSecret('secret1') });
    const states: string[] = [];
    const done = lastValueFrom(invite.state$.pipe(tap((s) => states.push(s.status))));
    const joining = new FakeConnection('b', 'incoming', { inviteSecret: fakeSecret('secret1'), remoteName: 'Desktop', remoteTicket: 'fake:b' });
    transport.incoming.next(joining);
    const final = await done;
    expect(states).toEqual(['waiting', 'joined']);
    expect(final).toMatchObject({ status: 'joined', peer: { nodeId: 'b', name: 'Desktop' }, verificationCode: await verificationCode(LOCAL_ID, 'b') });
    expect(joining.accepted).toBe(true);
    expect(manager.getPeerStates()[0]).toMatchObject({ status: 'connected', connection: joining });
    expect(storage.document?.peers).toEqual([expect.objectContaining({ nodeId: 'b', name: 'Desktop', ticket: 'fake:b' })]);
    await manager.destroy();
  });

  it('a wrong or reused secret is refused with the reason, and nothing is stored', async () => {
    const { manager, transport, storage } = await inviter();
    manager.pairing.createInvite();
    const forged = new FakeConnection('x', 'incoming', { inviteSecret: fakeSecret('guess') });
    transport.incoming.next(forged);
    expect(forged.closeReasons).toEqual([REFUSED_UNKNOWN_INVITE]);
    expect(forged.closeKinds).toEqual(['refused']);
    transport.incoming.next(new FakeConnection('b', 'incoming', { inviteSecret: fakeSecret('secret1'), remoteName: 'Desktop' }));
    const second = new FakeConnection('c', 'incoming', { inviteSecret: fakeSecret('secret1') });
    transport.incoming.next(second);
    expect(second.closeReasons).toEqual([REFUSED_USED_INVITE]);
    await manager.destroy();
    expect((storage.document?.peers as { nodeId: string }[]).map((p) => p.nodeId)).toEqual(['b']);
  });

  it('a name another device announces is made safe before it is stored: no escape sequences, no bidi overrides', async () => {
    const { manager, transport } = await inviter();
    manager.pairing.createInvite();
    const name = '\u001b]0;owned\u0007Desk\u009btop\u202e';
    transport.incoming.next(new FakeConnection('b', 'incoming', { inviteSecret: fakeSecret('secret1'), remoteName: name }));
    await until(() => manager.getPeers().length === 1);
    expect(manager.getPeers()[0]?.name).toBe(']0;owned Desk top');
    await manager.destroy();
  });

  it('joining with an invite dials with its secret, stores the inviter under its name and shows the code', async () => {
    const { manager: host } = await inviter();
    const text = host.pairing.createInvite().text;
    await host.destroy();
    const transport = new FakeTransport('j', (nodeId) => of(new FakeConnection(nodeId, 'outgoing', { remoteName: 'Laptop (host)', remoteTicket: 'fake:m' })));
    const storage = new MemoryStorage();
    const manager = await PeerManager.open({ transport, syncEngine: new FakeSyncEngine(), storage });
    const joined = await manager.pairing.joinWithInvite(text);
    expect(transport.presented).toEqual([fakeSecret('secret1')]);
    expect(joined.peer).toMatchObject({ nodeId: LOCAL_ID, name: 'Laptop (host)', ticket: 'fake:m', autoConnect: true });
    expect(joined.verificationCode).toBe(await verificationCode('j', LOCAL_ID));
    expect(manager.getPeerStates()[0]?.status).toBe('connected');
    await manager.destroy();
    expect(storage.document?.peers).toEqual([joined.peer]);
  });

  it('joining a device already paired takes the name given and its fresh address; a failed save puts both back', async () => {
    const { manager: host } = await inviter();
    const first = host.pairing.createInvite().text;
    const second = host.pairing.createInvite().text;
    await host.destroy();
    const transport = new FakeTransport('j', (nodeId) => of(new FakeConnection(nodeId, 'outgoing', { remoteTicket: 'fake:m ' })));
    const storage = MemoryStorage.with({ peers: [storedPeer(LOCAL_ID, { name: 'Old name', ticket: 'fake:m' })] });
    const manager = await PeerManager.open({ transport, syncEngine: new FakeSyncEngine(), storage });
    storage.failNextSave = new Error('disk full');
    await expect(manager.pairing.joinWithInvite(first, 'New name')).rejects.toThrow('disk full');
    expect(manager.getPeers()).toEqual([storedPeer(LOCAL_ID, { name: 'Old name', ticket: 'fake:m' })]);
    const joined = await manager.pairing.joinWithInvite(second, 'New name');
    expect(joined.peer).toMatchObject({ name: 'New name', ticket: 'fake:m ' });
    expect(manager.getPeers()).toHaveLength(1);
    await manager.destroy();
    expect(storage.document?.peers).toEqual([expect.objectContaining({ name: 'New name', ticket: 'fake:m ' })]);
  });

  it('joining with a refused invite stores nothing and passes on the reason', async () => {
    const { manager: host } = await inviter();
    const text = host.pairing.createInvite().text;
    await host.destroy();
    const transport = new FakeTransport('j', () => throwError(() => new PeerRefusedError(REFUSED_USED_INVITE)));
    const storage = new MemoryStorage();
    const manager = await PeerManager.open({ transport, syncEngine: new FakeSyncEngine(), storage });
    await expect(manager.pairing.joinWithInvite(text)).rejects.toThrow(REFUSED_USED_INVITE);
    expect(manager.getPeers()).toEqual([]);
    expect(storage.text).toBeNull();
    await manager.destroy();
  });

  it('joining with an expired, damaged or own invite fails before dialling', async () => {
    const { manager: host } = await inviter();
    const text = host.pairing.createInvite({ ttlMs: -1_000 }).text;
    const own = host.pairing.createInvite().text;
    const transport = new FakeTransport('j', connectsAtOnce);
    const manager = await PeerManager.open({ transport, syncEngine: new FakeSyncEngine(), storage: new MemoryStorage() });
    await expect(manager.pairing.joinWithInvite(text)).rejects.toMatchObject({ reason: 'expired' });
    await expect(manager.pairing.joinWithInvite(`${text.slice(0, 20)}${text.slice(21)}`)).rejects.toMatchObject({ reason: 'damaged' });
    await expect(host.pairing.joinWithInvite(own)).rejects.toThrow(/own invite/);
    expect(transport.dialled).toEqual([]);
    await Promise.all([manager.destroy(), host.destroy()]);
  });

  it('keeps nothing when the pairing cannot be saved, and tells the joining device', async () => {
    const { manager, transport, storage } = await inviter();
    const invite = manager.pairing.createInvite();
    const ended = lastValueFrom(invite.state$);
    storage.failNextSave = new Error('disk full');
    const joining = new FakeConnection('b', 'incoming', { inviteSecret: fakeSecret('secret1'), remoteName: 'Desktop' });
    transport.incoming.next(joining);
    expect(await ended).toEqual({ status: 'cancelled' });
    expect(joining.closeKinds).toEqual(['refused']);
    expect(manager.getPeers()).toEqual([]);
    await manager.destroy();
  });
});

describe('the gate the transport asks before it says anything about this device', () => {
  let scheduler: TestScheduler;
  beforeEach(() => {
    scheduler = newTestScheduler();
  });

  it('lets a paired device through, always', () => {
    scheduler.run(() => {
      const { manager } = harness(scheduler, { peers: [storedPeer('b')] });
      expect(manager.pairing.mayConnect('b')).toBe(true);
    });
  });

  it('refuses a stranger without a valid invite even while an invite is open', () => {
    scheduler.run(() => {
      const { manager } = harness(scheduler, { options: { newSecret: () => fakeSecret('open') } });
      manager.pairing.createInvite();
      expect(manager.pairing.mayConnect('x')).toBe(false);
      expect(manager.pairing.mayConnect('x', fakeSecret('guess'))).toBe(false);
      expect(manager.pairing.mayConnect('x', fakeSecret('open'))).toBe(true);
    });
  });

  it('lets a stranger with an ended invite through for a while, so it hears why it is refused', () => {
    scheduler.run(({ hot }) => {
      const { manager } = harness(scheduler, { options: { newSecret: () => fakeSecret('short') } });
      manager.pairing.createInvite({ ttlMs: 1_000 });
      hot('2s x').subscribe(() => expect(manager.pairing.mayConnect('x', fakeSecret('short'))).toBe(true));
      hot(`${1_000 + INVITE_MEMORY_MS + 1}ms x`).subscribe(() => expect(manager.pairing.mayConnect('x', fakeSecret('short'))).toBe(false));
      hot(`${1_000 + INVITE_MEMORY_MS + 2}ms x`).subscribe(() => void manager.destroy());
    });
  });


  it('under ask, lets a stranger through to be listed; under reject, not', () => {
    scheduler.run(() => {
      const { manager } = harness(scheduler);
      expect(manager.pairing.mayConnect('p')).toBe(false);
      manager.pairing.setUnknownDevicePolicy('ask');
      expect(manager.pairing.mayConnect('p')).toBe(true);
    });
  });

  it('never lets a blocked device through, not even with a valid invite; refusals are counted from the transport, not by asking', () => {
    scheduler.run(({ hot }) => {
      const { manager, transport } = harness(scheduler, {
        options: { unknownDevicePolicy: 'ask', newSecret: () => fakeSecret('open') },
      });
      manager.pairing.createInvite();
      hot('-x').subscribe(() => void manager.pairing.blockDevice('q'));
      hot('--x').subscribe(() => {
        for (let i = 0; i < 5; i += 1) expect(manager.pairing.mayConnect('q', fakeSecret('open'))).toBe(false);
        expect(manager.pairing.getBlockedDevices()[0]?.refusals).toBe(0);
      });
      hot('---x-x').subscribe(() => transport.refused.next({ nodeId: 'q', reason: REASON_NOT_PAIRED }));
      hot('------x').subscribe(() => transport.refused.next({ nodeId: 'someone-else', reason: REASON_NOT_PAIRED }));
      scheduler.flush();
      expect(manager.pairing.getBlockedDevices()).toEqual([expect.objectContaining({ nodeId: 'q', refusals: 2 })]);
    });
  });
});

describe('devices without an invite, under the ask policy (marbles)', () => {
  let scheduler: TestScheduler;
  beforeEach(() => {
    scheduler = newTestScheduler();
  });

  it('a request is listed and the device told to wait, refused on purpose; accepting takes it off the list', () => {
    scheduler.run(({ hot, cold, expectObservable }) => {
      const { manager, transport } = harness(scheduler, {
        options: { unknownDevicePolicy: 'ask' },
        dial: (id) => cold('-x', { x: new FakeConnection(id, 'outgoing') }),
      });
      const asking = new FakeConnection('p', 'incoming', { remoteName: 'Phone', remoteTicket: 'fake:p' });
      hot('-x').subscribe(() => transport.incoming.next(asking));
      hot('---x').subscribe(() => void manager.pairing.acceptRequest('p'));
      expectObservable(manager.pairing.pendingRequests$.pipe(map((list) => list.map((r) => r.name).join(',') || '-'))).toBe('ab-c', {
        a: '-',
        b: 'Phone',
        c: '-',
      });
      scheduler.flush();
      expect(asking.closeReasons).toEqual([REASON_AWAITING_APPROVAL]);
      expect(asking.closeKinds).toEqual(['refused']);
      expect(manager.getPeers()).toEqual([expect.objectContaining({ nodeId: 'p', name: 'Phone', ticket: 'fake:p' })]);
    });
  });

  it('ignoring drops the request; the device may ask again', () => {
    scheduler.run(({ hot }) => {
      const { manager, transport } = harness(scheduler, { options: { unknownDevicePolicy: 'ask' } });
      hot('-x---x').subscribe(() => transport.incoming.next(new FakeConnection('p', 'incoming', { remoteName: 'Phone' })));
      hot('---x').subscribe(() => void manager.pairing.ignoreRequest('p'));
      hot('--x---x').subscribe(() => expect(manager.pairing.getPendingRequests()).toHaveLength(1));
      hot('----x').subscribe(() => expect(manager.pairing.getPendingRequests()).toHaveLength(0));
    });
  });

  it('a blocked device is refused silently and counted, with no event and no request', () => {
    scheduler.run(({ hot }) => {
      const { manager, transport } = harness(scheduler, { options: { unknownDevicePolicy: 'ask' } });
      const events: string[] = [];
      manager.events$.subscribe((e) => events.push(e.type));
      const attempts = [1, 2, 3].map(() => new FakeConnection('p', 'incoming', { remoteName: 'Phone' }));
      let next = 0;
      hot('-a').subscribe(() => transport.incoming.next(attempts[next++]!));
      hot('--b').subscribe(() => void manager.pairing.blockDevice('p'));
      hot('---c-d').subscribe(() => transport.incoming.next(attempts[next++]!));
      scheduler.flush();
      expect(events).toEqual(['pairing-requested']);
      expect(manager.pairing.getPendingRequests()).toEqual([]);
      expect(manager.pairing.getBlockedDevices()).toEqual([expect.objectContaining({ nodeId: 'p', name: 'Phone', refusals: 2 })]);
      expect(attempts.slice(1).map((a) => a.closeReasons)).toEqual([[REASON_NOT_PAIRED], [REASON_NOT_PAIRED]]);
      expect(manager.pairing.mayConnect('p')).toBe(false);
    });
  });

  it('under reject, a stranger is refused and reported, and nothing is listed', () => {
    scheduler.run(({ hot }) => {
      const { manager, transport } = harness(scheduler);
      const events: PeerManagerEvent[] = [];
      manager.events$.subscribe((e) => events.push(e));
      const stranger = new FakeConnection('p', 'incoming');
      hot('-x').subscribe(() => transport.incoming.next(stranger));
      scheduler.flush();
      expect(stranger.closeKinds).toEqual(['refused']);
      expect(events).toEqual([{ type: 'refused', nodeId: 'p', reason: REASON_NOT_PAIRED }]);
      expect(manager.pairing.getPendingRequests()).toEqual([]);
    });
  });

  it('a full list still shows new requests: the oldest request nobody has seen makes room', () => {
    scheduler.run(({ hot }) => {
      const { manager, transport } = harness(scheduler, { options: { unknownDevicePolicy: 'ask' } });
      const requested: string[] = [];
      manager.events$.subscribe((e) => e.type === 'pairing-requested' && requested.push(e.nodeId));
      const ask = (id: string): void => transport.incoming.next(new FakeConnection(id, 'incoming', { remoteName: id }));
      hot('-x').subscribe(() => {
        ask('seen1');
        ask('seen2');
        manager.pairing.markRequestsSeen(['seen1', 'seen2']);
        for (let i = 0; i < MAX_PENDING_REQUESTS - 2; i += 1) ask(`flood${i}`);
      });
      hot('--x').subscribe(() => ask('late'));
      hot('---x').subscribe(() => ask('later'));
      scheduler.flush();
      const ids = manager.pairing.getPendingRequests().map((r) => r.nodeId);
      expect(ids).toHaveLength(MAX_PENDING_REQUESTS);
      expect(ids.slice(0, 2)).toEqual(['seen1', 'seen2']);
      expect(ids).not.toContain('flood0');
      expect(ids).not.toContain('flood1');
      expect(ids.slice(-2)).toEqual(['late', 'later']);
      expect(requested.slice(-2)).toEqual(['late', 'later']);
    });
  });

  it('a full list of requests never locks out a device that brings a valid invite', () => {
    scheduler.run(({ hot }) => {
      const { manager, transport } = harness(scheduler, {
        options: { unknownDevicePolicy: 'ask', newSecret: () => fakeSecret('valid') },
      });
      hot('-x').subscribe(() => {
        for (let i = 0; i < MAX_PENDING_REQUESTS + 5; i += 1) transport.incoming.next(new FakeConnection(`s${i}`, 'incoming'));
        manager.pairing.createInvite();
      });
      const joining = new FakeConnection('friend', 'incoming', { inviteSecret: fakeSecret('valid'), remoteName: 'Friend' });
      hot('--x').subscribe(() => {
        expect(manager.pairing.mayConnect('friend', fakeSecret('valid'))).toBe(true);
        transport.incoming.next(joining);
      });
      scheduler.flush();
      expect(manager.getPeers()).toEqual([expect.objectContaining({ nodeId: 'friend', name: 'Friend' })]);
    });
  });

  it('one device asking again and again changes the list at most once per REQUEST_REPEAT_MS', () => {
    scheduler.run(({ hot, expectObservable }) => {
      const { manager, transport } = harness(scheduler, { options: { unknownDevicePolicy: 'ask' } });
      let n = 0;
      const asks: FakeConnection[] = [];
      const ask = (): void => {
        const connection = new FakeConnection('p', 'incoming', { remoteName: `Phone ${(n += 1)}` });
        asks.push(connection);
        transport.incoming.next(connection);
      };
      hot('-x 99ms x 99ms x 99ms x').subscribe(ask);
      hot(`${REQUEST_REPEAT_MS + 1}ms x`).subscribe(ask);
      expectObservable(manager.pairing.pendingRequests$.pipe(map((list) => list.map((r) => r.name).join(',') || '-')), `^ ${REQUEST_REPEAT_MS + 10}ms !`).toBe(
        `ab ${REQUEST_REPEAT_MS - 1}ms c`,
        { a: '-', b: 'Phone 1', c: 'Phone 5' },
      );
      scheduler.flush();
      // Every one of them is still told to wait.
      expect(asks.map((a) => a.closeReasons)).toEqual(Array(5).fill([REASON_AWAITING_APPROVAL]));
    });
  });
});

describe('pending requests and blocked devices', () => {
  it('accepting a request stores the device and dials it; the request itself was saved in the background', async () => {
    const transport = new FakeTransport(LOCAL_ID, connectsAtOnce);
    const storage = new MemoryStorage();
    const manager = await PeerManager.open({ transport, syncEngine: new FakeSyncEngine(), storage, unknownDevicePolicy: 'ask', saveDelayMs: 10 });
    transport.incoming.next(new FakeConnection('p', 'incoming', { remoteName: 'Phone', remoteTicket: 'fake:p' }));
    expect(storage.document).toBeNull();
    await until(() => storage.document !== null);
    expect(storage.document?.pendingRequests).toEqual([expect.objectContaining({ nodeId: 'p', name: 'Phone', seen: false })]);
    await manager.pairing.acceptRequest('p');
    expect(transport.dialled).toEqual(['fake:p']);
    expect(manager.getPeerStates()[0]?.status).toBe('connected');
    await manager.destroy();
    expect(storage.document).toMatchObject({ pendingRequests: [], peers: [expect.objectContaining({ nodeId: 'p' })] });
  });

  it('accepting keeps the request when the device cannot be saved', async () => {
    const transport = new FakeTransport(LOCAL_ID, connectsAtOnce);
    const storage = new MemoryStorage();
    const manager = await PeerManager.open({ transport, syncEngine: new FakeSyncEngine(), storage, unknownDevicePolicy: 'ask' });
    transport.incoming.next(new FakeConnection('p', 'incoming', { remoteName: 'Phone' }));
    storage.failNextSave = new Error('disk full');
    await expect(manager.pairing.acceptRequest('p')).rejects.toThrow('disk full');
    expect(manager.pairing.getPendingRequests().map((r) => r.nodeId)).toEqual(['p']);
    expect(manager.getPeers()).toEqual([]);
    expect(transport.dialled).toEqual([]);
    await manager.destroy();
  });

  it('pending requests, what a person has seen, and the block list with its refusals survive a restart', async () => {
    const storage = new MemoryStorage();
    const transport = new FakeTransport(LOCAL_ID);
    const first = await PeerManager.open({ transport, syncEngine: new FakeSyncEngine(), storage, unknownDevicePolicy: 'ask' });
    transport.incoming.next(new FakeConnection('p', 'incoming', { remoteName: 'Phone' }));
    transport.incoming.next(new FakeConnection('q', 'incoming', { remoteName: 'Tablet' }));
    first.pairing.markRequestsSeen();
    await first.pairing.blockDevice('q');
    transport.refused.next({ nodeId: 'q', reason: REASON_NOT_PAIRED });
    await first.destroy();
    const second = await PeerManager.open({ transport: new FakeTransport(LOCAL_ID), syncEngine: new FakeSyncEngine(), storage });
    expect(second.pairing.getPendingRequests()).toEqual([expect.objectContaining({ name: 'Phone', seen: true })]);
    expect(second.pairing.getBlockedDevices()).toEqual([expect.objectContaining({ nodeId: 'q', name: 'Tablet', refusals: 1 })]);
    await second.destroy();
  });

  it('blocking a paired device removes it (telling it so) and refuses it from then on', async () => {
    const transport = new FakeTransport(LOCAL_ID, connectsAtOnce);
    const manager = await PeerManager.open({ transport, syncEngine: new FakeSyncEngine(), storage: MemoryStorage.with({ peers: [storedPeer('b')] }) });
    await manager.connectToPeer('b');
    const connection = manager.getPeerStates()[0]?.connection as FakeConnection;
    await manager.pairing.blockDevice('b');
    expect(connection.closeKinds).toEqual(['removed']);
    expect(manager.getPeers()).toEqual([]);
    expect(manager.pairing.getBlockedDevices()).toEqual([expect.objectContaining({ nodeId: 'b', name: 'Device b', refusals: 0 })]);
    expect(manager.pairing.mayConnect('b')).toBe(false);
    await manager.pairing.unblockDevice('b');
    expect(manager.pairing.getBlockedDevices()).toEqual([]);
    await manager.destroy();
  });
});
