import { Observable, lastValueFrom, of, tap, throwError } from 'rxjs';
import { REASON_PAUSED, REASON_REMOVED, REASON_REMOVED_BY_PEER } from '../../src/core/messages';
import { parseInvite } from '../../src/core/pairing/invite-codec';
import { verificationCode } from '../../src/core/pairing/verification-code';
import {
  PeerRefusedError,
  InvalidPeerUpdateError,
  InvalidTicketError,
  ManagerDestroyedError,
  StorageError,
  UnknownPeerError,
} from '../../src/core/errors';
import type { PeerState, PeerView } from '../../src/core/model';
import { PeerManager, type PeerManagerEvent } from '../../src/core/peer-manager';
import type { PeerConnection } from '../../src/core/ports';
import { FakeConnection, FakeSyncEngine, FakeTransport, MemoryStorage, fakeSecret, fakeTicket } from '../support/fakes';
import { LOCAL_ID, storedPeer } from '../support/manager-harness';

const connectsAtOnce = (nodeId: string): Observable<PeerConnection> => of(new FakeConnection(nodeId, 'outgoing'));

async function open(storage = new MemoryStorage(), dial = connectsAtOnce) {
  const transport = new FakeTransport(LOCAL_ID, dial);
  const syncEngine = new FakeSyncEngine();
  const manager = await PeerManager.open({ transport, syncEngine, storage, random: () => 0 });
  const events: PeerManagerEvent[] = [];
  manager.events$.subscribe((event) => events.push(event));
  return { manager, transport, syncEngine, storage, events };
}

describe('PeerManager', () => {
  describe('addPeer', () => {
    it('adds, saves and connects to the device a ticket points at', async () => {
      const { manager, storage } = await open();
      const peer = await manager.addPeer(fakeTicket('b'), '  Desktop  ');
      expect(peer).toMatchObject({ nodeId: 'b', name: 'Desktop', ticket: 'fake:b', lastSyncAt: null, autoConnect: true });
      expect(Date.parse(peer.addedAt)).not.toBeNaN();
      expect(storage.document?.peers).toEqual([peer]);
      expect(manager.getPeerStates()[0]?.status).toBe('connected');
      await manager.destroy();
    });

    it('names a peer after its id when no name is given', async () => {
      const { manager } = await open();
      expect((await manager.addPeer(fakeTicket('bcdefghijk'), '')).name).toBe('Device bcdefghi');
      await manager.destroy();
    });

    it('returns the stored peer, unchanged, when the device is already known', async () => {
      const { manager, storage } = await open(MemoryStorage.with({ peers: [storedPeer('b', { name: 'Old name' })] }));
      const writes = storage.writes;
      const peer = await manager.addPeer(fakeTicket('b'), 'New name');
      expect(peer.name).toBe('Old name');
      expect(manager.getPeers()).toHaveLength(1);
      expect(storage.writes).toBe(writes);
      await manager.destroy();
    });

    it.each([
      ['', 'empty'],
      ['   ', 'empty'],
      ['fake:', 'malformed'],
      ['iroh-ticket:garbage', 'malformed'],
      [fakeTicket(LOCAL_ID), 'own-ticket'],
    ])('refuses %j with a typed error (%s) and adds nothing', async (ticket, reason) => {
      const { manager, storage } = await open();
      const error = await manager.addPeer(ticket, 'x').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidTicketError);
      expect((error as InvalidTicketError).reason).toBe(reason);
      expect((error as Error).message.length).toBeGreaterThan(20);
      expect(manager.getPeers()).toEqual([]);
      expect(storage.text).toBeNull();
      await manager.destroy();
    });

    it('rejects an over-long name before anything is stored', async () => {
      const { manager } = await open();
      await expect(manager.addPeer(fakeTicket('b'), 'x'.repeat(101))).rejects.toBeInstanceOf(InvalidPeerUpdateError);
      expect(manager.getPeers()).toEqual([]);
      await manager.destroy();
    });

    it('keeps nothing and dials nothing when the save fails', async () => {
      const { manager, storage, transport } = await open();
      storage.failNextSave = new Error('disk full');
      await expect(manager.addPeer(fakeTicket('b'), 'Desktop')).rejects.toThrow('disk full');
      expect(manager.getPeers()).toEqual([]);
      expect(transport.dialled).toEqual([]);
      await manager.destroy();
    });

    it('refuses to overwrite a peers file it could not read', async () => {
      const { manager, storage } = await open(new MemoryStorage('not json'));
      expect(manager.loadProblems).toEqual([expect.stringContaining('could not be read')]);
      await expect(manager.addPeer(fakeTicket('b'), 'Desktop')).rejects.toBeInstanceOf(StorageError);
      expect(storage.text).toBe('not json');
      await manager.destroy();
    });
  });

  it('loads valid stored peers as disconnected and reports the bad ones', async () => {
    const { manager } = await open(MemoryStorage.with({ peers: [storedPeer('b'), { nodeId: 3 }], settings: { x: 1 } }));
    expect(manager.getPeers()).toEqual([storedPeer('b')]);
    expect(manager.getPeerStates()[0]).toMatchObject({ status: 'disconnected', connection: null, lastError: null });
    expect(manager.loadProblems).toEqual([expect.stringContaining('#2 was skipped')]);
    await manager.destroy();
  });

  describe('removePeer', () => {
    it('disconnects, forgets and saves, keeping the other keys', async () => {
      const { manager, storage } = await open(MemoryStorage.with({ peers: [storedPeer('b'), storedPeer('c')], settings: { x: 1 } }));
      await manager.connectToPeer('b');
      const connection = manager.getPeerStates()[0]?.connection as FakeConnection;
      await manager.removePeer('b');
      expect(connection.closeReasons).toEqual([REASON_REMOVED]);
      expect(manager.getPeers().map((p) => p.nodeId)).toEqual(['c']);
      expect(storage.document).toEqual({ peers: [storedPeer('c')], settings: { x: 1 } });
      await manager.destroy();
    });

    it('is a no-op for an unknown id', async () => {
      const { manager, storage } = await open();
      await manager.removePeer('nobody');
      expect(storage.writes).toBe(0);
      await manager.destroy();
    });
  });

  describe('updatePeer', () => {
    it('renames and toggles auto-connect, saving each change', async () => {
      const { manager, storage } = await open(MemoryStorage.with({ peers: [storedPeer('b')] }));
      await manager.updatePeer('b', { name: ' Work laptop ', autoConnect: false });
      expect(storage.document?.peers).toEqual([storedPeer('b', { name: 'Work laptop', autoConnect: false })]);
      await manager.destroy();
    });

    it('turning auto-connect on starts connecting', async () => {
      const { manager } = await open(MemoryStorage.with({ peers: [storedPeer('b', { autoConnect: false })] }));
      await manager.updatePeer('b', { autoConnect: true });
      expect(manager.getPeerStates()[0]?.status).toBe('connected');
      await manager.destroy();
    });

    it('does not write when nothing changed', async () => {
      const { manager, storage } = await open(MemoryStorage.with({ peers: [storedPeer('b')] }));
      const writes = storage.writes;
      await manager.updatePeer('b', { name: 'Device b' });
      expect(storage.writes).toBe(writes);
      await manager.destroy();
    });

    it.each([[{ name: '' }], [{ name: 'x'.repeat(101) }], [{ autoConnect: 'yes' as unknown as boolean }]])(
      'rejects %j and changes nothing',
      async (update) => {
        const { manager } = await open(MemoryStorage.with({ peers: [storedPeer('b')] }));
        await expect(manager.updatePeer('b', update)).rejects.toBeInstanceOf(InvalidPeerUpdateError);
        expect(manager.getPeers()).toEqual([storedPeer('b')]);
        await manager.destroy();
      },
    );
  });

  it.each(['updatePeer', 'connectToPeer', 'disconnectPeer'] as const)('%s of an unknown id throws UnknownPeerError', async (method) => {
    const { manager } = await open();
    await expect(manager[method]('nobody', {})).rejects.toBeInstanceOf(UnknownPeerError);
    await manager.destroy();
  });

  it('connectAll connects auto-connect peers only', async () => {
    const { manager, transport } = await open(
      MemoryStorage.with({ peers: [storedPeer('b'), storedPeer('c', { autoConnect: false }), storedPeer('d')] }),
    );
    await manager.connectAll();
    expect(transport.dialled).toEqual(['fake:b', 'fake:d']);
    await manager.destroy();
  });

  it('connectToPeer resolves once the attempt has failed, leaving the reason in lastError', async () => {
    const { manager } = await open(MemoryStorage.with({ peers: [storedPeer('b')] }), () =>
      new Observable((subscriber) => subscriber.error(new Error('no route to host'))),
    );
    await manager.connectToPeer('b');
    expect(manager.getPeerStates()[0]).toMatchObject({ status: 'disconnected', lastError: 'no route to host' });
    await manager.destroy();
  });

  it('a finished sync sets lastSyncAt and saves it', async () => {
    const transport = new FakeTransport(LOCAL_ID, connectsAtOnce);
    const storage = MemoryStorage.with({ peers: [storedPeer('b')] });
    const syncEngine = new FakeSyncEngine(() => of({ type: 'started' as const }, { type: 'finished' as const }));
    const manager = await PeerManager.open({ transport, syncEngine, storage });
    await manager.connectToPeer('b');
    await manager.destroy();
    const saved = (storage.document?.peers as { lastSyncAt: string | null }[])[0]?.lastSyncAt;
    expect(saved).toBe(manager.getPeers()[0]?.lastSyncAt);
    expect(Date.parse(saved ?? '')).not.toBeNaN();
  });

  it('refuses a dialled connection that answers with another node id', async () => {
    const { manager } = await open(MemoryStorage.with({ peers: [storedPeer('b')] }), () => of(new FakeConnection('x', 'outgoing')));
    await manager.connectToPeer('b');
    expect(manager.getPeerStates()[0]?.lastError).toContain('different device');
    await manager.destroy();
  });

  describe('address refresh', () => {
    it('stores the fresh ticket a connection brings, so a moved peer can be redialled', async () => {
      const { manager, transport, storage } = await open(MemoryStorage.with({ peers: [storedPeer('b', { ticket: 'fake:b' })] }));
      const moved = Object.assign(new FakeConnection('b', 'incoming'), { remoteTicket: 'fake:b ' });
      transport.incoming.next(moved);
      await manager.destroy();
      expect(manager.getPeers()[0]?.ticket).toBe('fake:b ');
      expect((storage.document?.peers as { ticket: string }[])[0]?.ticket).toBe('fake:b ');
    });

    it('ignores a reported ticket that points at another node or does not parse', async () => {
      const { manager, transport, storage } = await open(MemoryStorage.with({ peers: [storedPeer('b')] }));
      transport.incoming.next(Object.assign(new FakeConnection('b', 'incoming'), { remoteTicket: 'fake:x' }));
      manager.getPeerStates()[0]?.connection?.close('again');
      transport.incoming.next(Object.assign(new FakeConnection('b', 'incoming'), { remoteTicket: 'garbage' }));
      await manager.destroy();
      expect(manager.getPeers()[0]?.ticket).toBe('fake:b');
      expect(storage.writes).toBe(0);
    });
  });

  describe('incoming connections', () => {
    it('a known peer becomes connected and its sync starts', async () => {
      const { manager, transport, syncEngine } = await open(MemoryStorage.with({ peers: [storedPeer('b', { autoConnect: false })] }));
      const incoming = new FakeConnection('b', 'incoming');
      transport.incoming.next(incoming);
      expect(manager.getPeerStates()[0]).toMatchObject({ status: 'connected', connection: incoming });
      expect(syncEngine.started).toEqual([incoming]);
      await manager.destroy();
    });

    it('an unknown node is refused, reported, and never listed', async () => {
      const { manager, transport, events } = await open();
      const stranger = new FakeConnection('x', 'incoming');
      transport.incoming.next(stranger);
      expect(stranger.closeReasons).toEqual([expect.stringContaining('not paired')]);
      expect(events).toEqual([{ type: 'refused', nodeId: 'x', reason: stranger.closeReasons[0] }]);
      expect(manager.getPeers()).toEqual([]);
      await manager.destroy();
    });

    it("a known peer's incoming connection is accepted (its dial completes only then)", async () => {
      const { transport } = await open(MemoryStorage.with({ peers: [storedPeer('b', { autoConnect: false })] }));
      const incoming = new FakeConnection('b', 'incoming');
      transport.incoming.next(incoming);
      expect(incoming.accepted).toBe(true);
    });

    it('a refused stranger is told it was refused on purpose, so it stops redialling', async () => {
      const { transport } = await open();
      const stranger = new FakeConnection('x', 'incoming');
      transport.incoming.next(stranger);
      expect(stranger.closeKinds).toEqual(['refused']);
      expect(stranger.accepted).toBe(false);
    });
  });

  describe('removal by the other device', () => {
    it('removing a connected peer tells it so; a peer told so stops redialling', async () => {
      const { manager } = await open(MemoryStorage.with({ peers: [storedPeer('b')] }));
      await manager.connectToPeer('b');
      const connection = manager.getPeerStates()[0]?.connection as FakeConnection;
      await manager.removePeer('b');
      expect(connection.closeKinds).toEqual(['removed']);
      await manager.destroy();

      const other = await open(MemoryStorage.with({ peers: [storedPeer('b')] }));
      await other.manager.connectToPeer('b');
      const removedUs = other.manager.getPeerStates()[0]?.connection as FakeConnection;
      removedUs.drop(REASON_REMOVED_BY_PEER);
      // With random() = 0 a redial would come on the next tick; give it several.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(other.transport.dialled).toEqual(['fake:b']);
      expect(other.manager.getPeerStates()[0]).toMatchObject({ status: 'disconnected', lastError: REASON_REMOVED_BY_PEER });
      expect(other.events).toContainEqual({ type: 'removed-by-peer', nodeId: 'b' });
      await other.manager.destroy();
    });

    it('a redial refused because the other device removed us is reported as a removal, once', async () => {
      const other = await open(MemoryStorage.with({ peers: [storedPeer('b')] }));
      other.transport.dialer = () => throwError(() => new PeerRefusedError(REASON_REMOVED_BY_PEER));
      await other.manager.connectToPeer('b').catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(other.transport.dialled).toEqual(['fake:b']);
      expect(other.manager.getPeerStates()[0]).toMatchObject({ status: 'disconnected', lastError: REASON_REMOVED_BY_PEER });
      expect(other.events.filter((event) => event.type === 'removed-by-peer')).toEqual([{ type: 'removed-by-peer', nodeId: 'b' }]);
      await other.manager.destroy();
    });
  });

  describe('onPeerStateChange', () => {
    it('calls back now and on every change until unsubscribed', async () => {
      const { manager } = await open(MemoryStorage.with({ peers: [storedPeer('b')] }));
      const seen: string[][] = [];
      const stop = manager.onPeerStateChange((states) => seen.push(states.map((s) => s.status)));
      await manager.connectToPeer('b');
      stop();
      await manager.disconnectPeer('b');
      expect(seen).toEqual([['disconnected'], ['connecting'], ['connected']]);
      await manager.destroy();
    });

    it('isolates a callback that throws: others still hear every change, and it is reported', async () => {
      const { manager, events } = await open(MemoryStorage.with({ peers: [storedPeer('b')] }));
      const healthy: PeerState[][] = [];
      manager.onPeerStateChange(() => {
        throw new Error('listener bug');
      });
      manager.onPeerStateChange((states) => healthy.push(states));
      await manager.connectToPeer('b');
      expect(healthy.map((states) => states[0]?.status)).toEqual(['disconnected', 'connecting', 'connected']);
      expect(events.filter((e) => e.type === 'problem')).toHaveLength(3);
      expect(events[0]).toMatchObject({ type: 'problem', message: expect.stringContaining('listener bug') });
      await manager.destroy();
    });
  });

  describe('observable surface', () => {
    it('peers$ stays quiet while only statuses change', async () => {
      const { manager } = await open(MemoryStorage.with({ peers: [storedPeer('b')] }));
      const emissions: unknown[] = [];
      manager.peers$.subscribe((peers) => emissions.push(peers));
      await manager.connectToPeer('b');
      await manager.updatePeer('b', { name: 'Renamed' });
      expect(emissions).toHaveLength(2);
      await manager.destroy();
    });

    it("peerState$ does not wake for another peer's change and completes when its peer is removed", async () => {
      const { manager } = await open(MemoryStorage.with({ peers: [storedPeer('b'), storedPeer('c')] }));
      const seen: string[] = [];
      let completed = false;
      manager.peerState$('b').subscribe({ next: (s) => seen.push(s.status), complete: () => (completed = true) });
      await manager.connectToPeer('c');
      await manager.removePeer('b');
      expect(seen).toEqual(['disconnected']);
      expect(completed).toBe(true);
      await manager.destroy();
    });

    it('peerViews$ and peerView$ show records, statuses, errors and sync progress, and no connection', async () => {
      const progress = { files: { done: 1, total: 3 }, bytes: { done: 100, total: 300 } };
      const transport = new FakeTransport(LOCAL_ID, connectsAtOnce);
      const syncEngine = new FakeSyncEngine(() => new Observable((s) => s.next({ type: 'progress', ...progress })));
      const manager = await PeerManager.open({ transport, syncEngine, storage: MemoryStorage.with({ peers: [storedPeer('b'), storedPeer('c')] }) });
      const views: PeerView[][] = [];
      manager.peerViews$.subscribe((list) => views.push(list));
      const one: PeerView[] = [];
      manager.peerView$('b').subscribe((view) => one.push(view));
      await manager.connectToPeer('b');
      const last = views.at(-1)!;
      expect(last[0]).toEqual({ peer: storedPeer('b'), status: 'syncing', lastError: null, syncProgress: progress });
      expect(Object.keys(last[0]!)).not.toContain('connection');
      expect(Object.isFrozen(last[0])).toBe(true);
      // The untouched peer's view is the same object in every list.
      expect(new Set(views.map((list) => list[1])).size).toBe(1);
      expect(one.map((view) => view.status)).toEqual(['disconnected', 'connecting', 'connected', 'syncing']);
      expect(manager.getPeerStates()[0]).toMatchObject({ status: 'syncing', syncProgress: progress });
      await manager.destroy();
    });
  });

  describe('disconnectAll', () => {
    it('closes every connection and stops redialling; the peers stay', async () => {
      const { manager, transport } = await open(MemoryStorage.with({ peers: [storedPeer('b'), storedPeer('c')] }));
      await manager.connectAll();
      const connections = manager.getPeerStates().map((state) => state.connection as FakeConnection);
      await manager.disconnectAll();
      expect(connections.map((c) => c.closeReasons)).toEqual([[REASON_PAUSED], [REASON_PAUSED]]);
      expect(manager.getPeerStates().map((state) => state.status)).toEqual(['disconnected', 'disconnected']);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(transport.dialled).toEqual(['fake:b', 'fake:c']);
      await manager.destroy();
    });
  });

  describe('background problems', () => {
    it('a failed background save is reported on events$, and the next change is saved', async () => {
      const storage = MemoryStorage.with({ peers: [storedPeer('b')] });
      const transport = new FakeTransport(LOCAL_ID, (nodeId) => of(new FakeConnection(nodeId, 'outgoing', { remoteTicket: 'fake:b ' })));
      const manager = await PeerManager.open({ transport, syncEngine: new FakeSyncEngine(), storage, saveDelayMs: 1 });
      const events: PeerManagerEvent[] = [];
      manager.events$.subscribe((event) => events.push(event));
      storage.failNextSave = new Error('disk full');
      await manager.connectToPeer('b');
      const deadline = Date.now() + 5_000;
      while (!events.some((e) => e.type === 'problem') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(events).toContainEqual(expect.objectContaining({ type: 'problem', message: 'Saving the peers failed: disk full' }));
      await manager.destroy();
      expect((storage.document?.peers as { ticket: string }[])[0]?.ticket).toBe('fake:b ');
    });
  });

  describe('destroy', () => {
    it('closes connections, completes every stream and refuses further calls', async () => {
      const { manager, transport } = await open(MemoryStorage.with({ peers: [storedPeer('b')] }));
      await manager.connectToPeer('b');
      const connection = manager.getPeerStates()[0]?.connection as FakeConnection;
      const completed: string[] = [];
      manager.peerStates$.subscribe({ complete: () => completed.push('peerStates$') });
      manager.peers$.subscribe({ complete: () => completed.push('peers$') });
      manager.events$.subscribe({ complete: () => completed.push('events$') });
      await manager.destroy();
      await manager.destroy(); // idempotent
      expect(connection.closedByUs).toBe(true);
      expect(completed.sort()).toEqual(['events$', 'peerStates$', 'peers$']);
      expect(transport.incoming.observed).toBe(false);
      await expect(manager.addPeer(fakeTicket('c'), 'x')).rejects.toBeInstanceOf(ManagerDestroyedError);
    });

    it('waits for pending saves', async () => {
      const { manager, storage } = await open();
      storage.saveDelayMs = 20;
      const adding = manager.addPeer(fakeTicket('b'), 'Desktop');
      await new Promise((resolve) => setTimeout(resolve, 1));
      await manager.destroy();
      expect(storage.document?.peers).toHaveLength(1);
      await adding;
    });
  });
});
