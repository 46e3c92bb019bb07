import { Observable, distinctUntilChanged, map } from 'rxjs';
import { REASON_DUPLICATE, REASON_PAUSED, REASON_REMOVED, REASON_REPLACED } from '../../src/core/messages';
import type { TestScheduler } from 'rxjs/testing';
import { ConnectTimeoutError } from '../../src/core/errors';
import type { PeerConnection, SyncEvent } from '../../src/core/ports';
import { FakeConnection } from '../support/fakes';
import { harness, statusOf, storedPeer } from '../support/manager-harness';
import { newTestScheduler, openAt } from '../support/marbles';

type Helpers = Parameters<Parameters<TestScheduler['run']>[0]>[0];

/** Runs `fn` at each frame the marble has a value (a hot marble: frame 0 is the start). */
function at(helpers: Helpers, marble: string, fn: () => void): void {
  helpers.hot(marble).subscribe(() => fn());
}

const started: SyncEvent = { type: 'started' };
const finished: SyncEvent = { type: 'finished' };
const refused = new Error('connection refused');

// Local node id is 'm': peer 'a' sorts below it, peer 'z' above.

describe('PeerManager timing (marbles)', () => {
  let scheduler: TestScheduler;
  beforeEach(() => {
    scheduler = newTestScheduler();
  });

  it('goes disconnected -> connecting -> connected -> syncing -> connected and records lastSyncAt', () => {
    scheduler.run((helpers) => {
      const { cold, expectObservable } = helpers;
      const conn = new FakeConnection('a', 'outgoing');
      const { manager, storage } = harness(scheduler, {
        peers: [storedPeer('a')],
        dial: () => cold('--x', { x: conn }),
        sync: () => cold('-s-f|', { s: started, f: finished }),
      });
      at(helpers, '-x', () => void manager.connectToPeer('a'));
      expectObservable(statusOf(manager, 'a')).toBe('dc-os-o');
      scheduler.flush();
      expect(manager.getPeers()[0]?.lastSyncAt).toBe(new Date(6).toISOString());
      expect(manager.getPeerStates()[0]?.connection).toBe(conn);
      return storage;
    });
  });

  it('redials with 1 s, 2 s, 4 s, then capped waits, recording each failure', () => {
    scheduler.run((helpers) => {
      const { cold, expectSubscriptions } = helpers;
      const dial = cold<PeerConnection>('-#', undefined, refused);
      const { manager } = harness(scheduler, {
        peers: [storedPeer('a')],
        dial: () => dial,
        options: { backoff: { baseMs: 1_000, capMs: 4_000 } },
      });
      at(helpers, '-x', () => void manager.connectAll());
      at(helpers, '-- 12s x', () => void manager.destroy());
      expectSubscriptions(dial.subscriptions).toBe(['-^!', '1002ms ^!', '3003ms ^!', '7004ms ^!', '11005ms ^!']);
      helpers.flush();
      expect(scheduler.actions).toHaveLength(0);
    });
  });

  it('shows the failure as lastError and status disconnected while waiting', () => {
    scheduler.run((helpers) => {
      const { cold, expectObservable } = helpers;
      const { manager } = harness(scheduler, {
        peers: [storedPeer('a')],
        dial: () => cold<PeerConnection>('-#', undefined, refused),
      });
      at(helpers, '-x', () => void manager.connectAll());
      at(helpers, '- 2s x', () => void manager.destroy());
      const lastError = manager.peerState$('a').pipe(
        map((state) => state.lastError),
        distinctUntilChanged(),
      );
      expectObservable(statusOf(manager, 'a'), '^ 1500ms !').toBe('dcd 999ms cd');
      expectObservable(lastError, '^ 5ms !').toBe('n-r', { n: null, r: 'connection refused' });
    });
  });

  it('gives each attempt 10 s by default (iroh would wait 30 s) and counts it as a failure', () => {
    scheduler.run((helpers) => {
      const { cold, expectSubscriptions } = helpers;
      const dial = cold<PeerConnection>('-');
      const { manager } = harness(scheduler, { peers: [storedPeer('a')], dial: () => dial });
      at(helpers, '-x', () => void manager.connectAll());
      at(helpers, '- 10s -x', () =>
        expect(manager.getPeerStates()[0]?.lastError).toBe(new ConnectTimeoutError(10_000).message),
      );
      at(helpers, '- 12s x', () => void manager.disconnectPeer('a'));
      expectSubscriptions(dial.subscriptions).toBe(['-^ 9999ms !', '- 11s ^ 999ms !']);
    });
  });

  it('resets the backoff after a successful connection: a drop is redialled after the first delay', () => {
    scheduler.run((helpers) => {
      const { cold, hot, expectObservable } = helpers;
      const failing = cold<PeerConnection>('-#', undefined, refused);
      const drops = hot<string>('-- 5s x', { x: 'connection lost' });
      const conn = new FakeConnection('a', 'outgoing', { ends$: drops });
      let calls = 0;
      const dialTimes: number[] = [];
      const { manager } = harness(scheduler, {
        peers: [storedPeer('a')],
        dial: () => {
          calls += 1;
          dialTimes.push(scheduler.now());
          return calls === 3 ? cold('-x', { x: conn }) : failing;
        },
        options: { backoff: { baseMs: 1_000, capMs: 60_000 } },
      });
      at(helpers, '-x', () => void manager.connectAll());
      at(helpers, '- 9s x', () => void manager.disconnectPeer('a'));
      // dial at 1 fails; 1002 fails; 3003 connects at 3004; dropped at 5002. The count was
      // reset, so the redial waits 1 s (6002), not 4 s, and the next failure 1 s again (7003).
      expectObservable(statusOf(manager, 'a'), '^ 8s !').toBe('dcd 999ms cd 1999ms co 1997ms d 999ms cd 999ms cd');
      helpers.flush();
      expect(dialTimes).toEqual([1, 1002, 3003, 6002, 7003]);
    });
  });

  it('redials at once, skipping the wait, when asked or when a trigger fires', () => {
    scheduler.run((helpers) => {
      const { cold, hot, expectSubscriptions } = helpers;
      const dial = cold<PeerConnection>('-#', undefined, refused);
      const networkBack = hot('------ 5s n');
      const { manager } = harness(scheduler, {
        peers: [storedPeer('a')],
        dial: () => dial,
        options: { redialTriggers$: networkBack, backoff: { baseMs: 60_000, capMs: 60_000 } },
      });
      at(helpers, '-x', () => void manager.connectAll());
      at(helpers, '---x', () => void manager.connectToPeer('a'));
      at(helpers, '- 20s x', () => void manager.destroy());
      // connect at 1 fails at 2; asked at 3 -> dial at 3; network back at 5006 -> dial at 5006.
      expectSubscriptions(dial.subscriptions).toBe(['-^!', '---^!', '------ 5s ^!']);
    });
  });

  it('never dials twice while connecting or connected', () => {
    scheduler.run((helpers) => {
      const { cold, expectSubscriptions } = helpers;
      const conn = new FakeConnection('a', 'outgoing');
      const dial = cold('---x', { x: conn });
      const { manager } = harness(scheduler, { peers: [storedPeer('a')], dial: () => dial });
      at(helpers, '-xx-x-x', () => void manager.connectToPeer('a'));
      at(helpers, '--x', () => void manager.connectAll());
      expectSubscriptions(dial.subscriptions).toBe('-^--!');
    });
  });

  it('an incoming connection from the peer ends its pending redial', () => {
    scheduler.run((helpers) => {
      const { cold, expectSubscriptions, expectObservable } = helpers;
      const dial = cold<PeerConnection>('-#', undefined, refused);
      const { manager, transport } = harness(scheduler, { peers: [storedPeer('a')], dial: () => dial });
      const incoming = new FakeConnection('a', 'incoming');
      at(helpers, '-x', () => void manager.connectAll());
      at(helpers, '-- 500ms x', () => transport.incoming.next(incoming));
      expectSubscriptions(dial.subscriptions).toBe(['-^!']);
      expectObservable(statusOf(manager, 'a'), '^ 10s !').toBe('dcd 499ms o');
    });
  });

  it('an incoming connection while dialling a lower node id wins and cancels our dial', () => {
    scheduler.run((helpers) => {
      const { cold, expectSubscriptions, expectObservable } = helpers;
      const dial = cold('-----x', { x: new FakeConnection('a', 'outgoing') });
      const { manager, transport } = harness(scheduler, { peers: [storedPeer('a')], dial: () => dial });
      const incoming = new FakeConnection('a', 'incoming');
      at(helpers, '-x', () => void manager.connectAll());
      at(helpers, '---x', () => transport.incoming.next(incoming));
      expectSubscriptions(dial.subscriptions).toBe('-^-!');
      expectObservable(statusOf(manager, 'a')).toBe('dc-o');
      helpers.flush();
      expect(manager.getPeerStates()[0]?.connection).toBe(incoming);
      expect(incoming.closedByUs).toBe(false);
    });
  });

  it('an incoming connection while dialling a higher node id is used until our dial, which wins, lands', () => {
    scheduler.run((helpers) => {
      const { cold, expectSubscriptions, expectObservable } = helpers;
      const outgoing = new FakeConnection('z', 'outgoing');
      const dial = cold('----x', { x: outgoing });
      const { manager, transport } = harness(scheduler, { peers: [storedPeer('z')], dial: () => dial });
      const incoming = new FakeConnection('z', 'incoming');
      at(helpers, '-x', () => void manager.connectAll());
      at(helpers, '---x', () => transport.incoming.next(incoming));
      expectSubscriptions(dial.subscriptions).toBe('-^---!');
      expectObservable(statusOf(manager, 'z')).toBe('dc-o');
      helpers.flush();
      expect(manager.getPeerStates()[0]?.connection).toBe(outgoing);
      expect(incoming.closeReasons).toEqual([REASON_REPLACED]);
      expect(outgoing.closedByUs).toBe(false);
    });
  });

  describe('simultaneous dial: both ends keep the connection dialled by the lower node id', () => {
    it('as the lower node, keeps our outgoing connection and closes the duplicate', () => {
      scheduler.run((helpers) => {
        const { cold } = helpers;
        const outgoing = new FakeConnection('z', 'outgoing', { remoteInstanceId: 'z1' });
        const { manager, transport } = harness(scheduler, { peers: [storedPeer('z')], dial: () => cold('-x', { x: outgoing }) });
        const incoming = new FakeConnection('z', 'incoming', { remoteInstanceId: 'z1' });
        at(helpers, 'x', () => void manager.connectAll());
        at(helpers, '--x', () => transport.incoming.next(incoming));
        helpers.flush();
        expect(manager.getPeerStates()[0]?.connection).toBe(outgoing);
        expect(incoming.closeReasons).toEqual([REASON_DUPLICATE]);
      });
    });

    it('as the higher node, switches to the incoming connection and closes our own', () => {
      scheduler.run((helpers) => {
        const { cold } = helpers;
        const outgoing = new FakeConnection('a', 'outgoing', { remoteInstanceId: 'a1' });
        const { manager, transport } = harness(scheduler, { peers: [storedPeer('a')], dial: () => cold('-x', { x: outgoing }) });
        const incoming = new FakeConnection('a', 'incoming', { remoteInstanceId: 'a1' });
        at(helpers, 'x', () => void manager.connectAll());
        at(helpers, '--x', () => transport.incoming.next(incoming));
        helpers.flush();
        expect(manager.getPeerStates()[0]?.connection).toBe(incoming);
        expect(outgoing.closeReasons).toEqual([REASON_REPLACED]);
        expect(manager.getPeerStates()[0]?.status).toBe('connected');
      });
    });

    it('a restarted peer (new instance id) replaces a stale connection whoever dialled it', () => {
      scheduler.run((helpers) => {
        const { cold } = helpers;
        const stale = new FakeConnection('z', 'outgoing', { remoteInstanceId: 'z1' });
        const { manager, transport } = harness(scheduler, { peers: [storedPeer('z')], dial: () => cold('-x', { x: stale }) });
        const fresh = new FakeConnection('z', 'incoming', { remoteInstanceId: 'z2' });
        at(helpers, 'x', () => void manager.connectAll());
        at(helpers, '--x', () => transport.incoming.next(fresh));
        helpers.flush();
        expect(manager.getPeerStates()[0]?.connection).toBe(fresh);
        expect(stale.closeReasons).toEqual([REASON_REPLACED]);
      });
    });
  });

  it('runs at most 4 dials at once by default; the rest wait their turn', () => {
    scheduler.run((helpers) => {
      const { cold, expectSubscriptions } = helpers;
      const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
      const dials = new Map(ids.map((id) => [id, cold('---x', { x: new FakeConnection(id, 'outgoing') })]));
      const { manager } = harness(scheduler, { peers: ids.map((id) => storedPeer(id)), dial: (id) => dials.get(id)! });
      at(helpers, '-x', () => void manager.connectAll());
      for (const id of ['a', 'b', 'c', 'd']) expectSubscriptions(dials.get(id)!.subscriptions).toBe('-^--!');
      for (const id of ['e', 'f']) expectSubscriptions(dials.get(id)!.subscriptions).toBe('----^--!');
      // e and f wait for a slot, shown as connecting; their dials start when a slot frees up.
      at(helpers, '--x', () => expect(manager.getPeerStates().map((s) => s.status)).toEqual(Array(6).fill('connecting')));
      helpers.flush();
      const logs = [...dials.values()].flatMap((dial) => dial.subscriptions);
      expect(openAt(logs, 2)).toBe(4);
      expect(openAt(logs, 8)).toBe(0);
      expect(manager.getPeerStates().map((s) => s.status)).toEqual(Array(6).fill('connected'));
    });
  });

  describe('cancellation', () => {
    it('removing a peer cancels its pending redial timer and its trigger subscription', () => {
      scheduler.run((helpers) => {
        const { cold, hot, expectSubscriptions } = helpers;
        const dial = cold<PeerConnection>('-#', undefined, refused);
        const triggers = hot('-');
        const { manager } = harness(scheduler, {
          peers: [storedPeer('a')],
          dial: () => dial,
          options: { redialTriggers$: triggers },
        });
        at(helpers, '-x', () => void manager.connectAll());
        at(helpers, '-- 300ms x', () => void manager.removePeer('a'));
        expectSubscriptions(dial.subscriptions).toBe(['-^!']);
        // The wait (timer raced with the triggers) started at 2 and ended at removal.
        expectSubscriptions(triggers.subscriptions).toBe('--^ 299ms !');
        helpers.flush();
        expect(scheduler.actions).toHaveLength(0);
      });
    });

    it('removing a peer closes its connection and aborts a running sync', () => {
      scheduler.run((helpers) => {
        const { cold } = helpers;
        const conn = new FakeConnection('a', 'outgoing');
        const sync = cold<SyncEvent>('-s-------f|', { s: started, f: finished });
        const { manager, syncEngine } = harness(scheduler, {
          peers: [storedPeer('a')],
          dial: () => cold('-x', { x: conn }),
          sync: () => sync,
        });
        at(helpers, 'x', () => void manager.connectAll());
        at(helpers, '----x', () => void manager.removePeer('a'));
        helpers.expectSubscriptions(sync.subscriptions).toBe('-^--!');
        helpers.flush();
        expect(conn.closeReasons).toEqual([REASON_REMOVED]);
        expect(syncEngine.aborted).toEqual([conn]);
        expect(manager.getPeers()).toEqual([]);
      });
    });

    it('disconnecting cancels a dial under way, closes nothing else, and stops redialling until asked', () => {
      scheduler.run((helpers) => {
        const { cold, expectSubscriptions, expectObservable } = helpers;
        const dial = cold('----x', { x: new FakeConnection('a', 'outgoing') });
        const { manager } = harness(scheduler, { peers: [storedPeer('a')], dial: () => dial });
        at(helpers, '-x', () => void manager.connectAll());
        at(helpers, '---x', () => void manager.disconnectPeer('a'));
        at(helpers, '- 30s x', () => void manager.connectToPeer('a'));
        expectSubscriptions(dial.subscriptions).toBe(['-^-!', '- 30s ^---!']);
        expectObservable(statusOf(manager, 'a'), '^ 40s !').toBe('dc-d 29997ms c---o');
      });
    });

    it('a disconnected peer that dials us is turned away until we connect again', () => {
      scheduler.run((helpers) => {
        const { cold } = helpers;
        const conn = new FakeConnection('a', 'outgoing');
        const { manager, transport } = harness(scheduler, { peers: [storedPeer('a')], dial: () => cold('-x', { x: conn }) });
        const comeback = new FakeConnection('a', 'incoming');
        at(helpers, 'x', () => void manager.connectAll());
        at(helpers, '---x', () => void manager.disconnectPeer('a'));
        at(helpers, '-----x', () => transport.incoming.next(comeback));
        helpers.flush();
        expect(conn.closeReasons).toEqual([REASON_PAUSED]);
        expect(comeback.closeReasons).toEqual([REASON_PAUSED]);
        expect(manager.getPeerStates()[0]?.status).toBe('disconnected');
      });
    });

    it('destroy unsubscribes every dial, wait, sync and the incoming stream, and leaves no timer', () => {
      scheduler.run((helpers) => {
        const { cold, hot, expectSubscriptions } = helpers;
        const failing = cold<PeerConnection>('-#', undefined, refused);
        const slow = cold<PeerConnection>('--------x', { x: new FakeConnection('b', 'outgoing') });
        const sync = cold<SyncEvent>('-s', { s: started });
        const conn = new FakeConnection('c', 'outgoing');
        const triggers = hot('-');
        const dials: Record<string, Observable<PeerConnection>> = { a: failing, b: slow, c: cold('-x', { x: conn }) };
        const { manager, transport } = harness(scheduler, {
          peers: ['a', 'b', 'c'].map((id) => storedPeer(id)),
          dial: (id) => dials[id]!,
          sync: () => sync,
          options: { redialTriggers$: triggers },
        });
        at(helpers, 'x', () => void manager.connectAll());
        at(helpers, '-----x', () => void manager.destroy());
        expectSubscriptions(failing.subscriptions).toBe('^!');
        expectSubscriptions(slow.subscriptions).toBe('^----!');
        expectSubscriptions(sync.subscriptions).toBe('-^---!');
        expectSubscriptions(triggers.subscriptions).toBe('-^---!');
        helpers.flush();
        expect(transport.incoming.observed).toBe(false);
        expect(conn.closedByUs).toBe(true);
        expect(scheduler.actions).toHaveLength(0);
      });
    });
  });

  it('a failed sync leaves the peer connected with the reason in lastError', () => {
    scheduler.run((helpers) => {
      const { cold, expectObservable } = helpers;
      const { manager } = harness(scheduler, {
        peers: [storedPeer('a')],
        dial: () => cold('-x', { x: new FakeConnection('a', 'outgoing') }),
        sync: () => cold<SyncEvent>('-s-#', { s: started }, new Error('vault locked')),
      });
      at(helpers, '-x', () => void manager.connectAll());
      expectObservable(statusOf(manager, 'a')).toBe('dcos-o');
      helpers.flush();
      expect(manager.getPeerStates()[0]).toMatchObject({ lastError: 'Sync failed: vault locked' });
      expect(manager.getPeers()[0]?.lastSyncAt).toBeNull();
    });
  });

  it('turning auto-connect off stops the redials of a peer that is not connected', () => {
    scheduler.run((helpers) => {
      const { cold, expectSubscriptions } = helpers;
      const dial = cold<PeerConnection>('-#', undefined, refused);
      const { manager } = harness(scheduler, { peers: [storedPeer('a')], dial: () => dial });
      at(helpers, 'x', () => void manager.connectAll());
      at(helpers, '-- 100ms x', () => void manager.updatePeer('a', { autoConnect: false }));
      expectSubscriptions(dial.subscriptions).toBe(['^!']);
      helpers.flush();
      expect(manager.getPeerStates()[0]?.status).toBe('disconnected');
      expect(scheduler.actions).toHaveLength(0);
    });
  });

  it('after a drop, an auto-connect peer is redialled and a manual-only peer is not', () => {
    scheduler.run((helpers) => {
      const { cold, hot } = helpers;
      const drops = hot<string>('---x', { x: 'gone' });
      const dialled: string[] = [];
      const { manager } = harness(scheduler, {
        peers: [storedPeer('a'), storedPeer('b', { autoConnect: false })],
        dial: (id) => {
          dialled.push(`${id}@${scheduler.now()}`);
          return cold('-x', { x: new FakeConnection(id, 'outgoing', { ends$: drops }) });
        },
      });
      at(helpers, 'x', () => {
        void manager.connectToPeer('a');
        void manager.connectToPeer('b');
      });
      at(helpers, '- 5s x', () => void manager.destroy());
      helpers.flush();
      expect(dialled).toEqual(['a@0', 'b@0', 'a@1003']);
    });
  });
});
