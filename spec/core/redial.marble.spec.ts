import { Observable, defer, map, throwError, timer } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { PeerRefusedError } from '../../src/core/errors';
import { REASON_NOT_PAIRED } from '../../src/core/messages';
import type { PeerManagerEvent } from '../../src/core/peer-manager';
import type { PeerConnection } from '../../src/core/ports';
import { FakeConnection } from '../support/fakes';
import { harness, statusOf, storedPeer } from '../support/manager-harness';
import { newTestScheduler, openAt } from '../support/marbles';

type Helpers = Parameters<Parameters<TestScheduler['run']>[0]>[0];

function at(helpers: Helpers, marble: string, fn: () => void): void {
  helpers.hot(marble).subscribe(() => fn());
}

/** Fresh connections from one cold dial marble, so its subscription log shows every attempt. */
function connectionsFrom(dial: Observable<unknown>, nodeId: string, ends$?: () => Observable<string>): Observable<PeerConnection> {
  return dial.pipe(map(() => new FakeConnection(nodeId, 'outgoing', ends$ ? { ends$: ends$() } : {})));
}

describe('redialling after a drop (marbles)', () => {
  let scheduler: TestScheduler;
  beforeEach(() => {
    scheduler = newTestScheduler();
  });

  it('redials a single peer that dropped at once: no jitter to wait out', () => {
    scheduler.run((helpers) => {
      const { cold, hot, expectSubscriptions } = helpers;
      const dial = cold('-x');
      const drops = hot<string>('20s x', { x: 'connection lost' });
      const { manager } = harness(scheduler, { peers: [storedPeer('a')], dial: () => connectionsFrom(dial, 'a', () => drops) });
      const seen: string[] = [];
      statusOf(manager, 'a').subscribe((status) => seen.push(`${status}@${scheduler.now()}`));
      at(helpers, 'x', () => void manager.connectAll());
      expectSubscriptions(dial.subscriptions).toBe(['^!', '20s ^!']);
      helpers.flush();
      expect(seen).toEqual(['d@0', 'c@0', 'o@1', 'd@20000', 'c@20000', 'o@20001']);
    });
  });

  it('spreads out the redials of 100 peers that dropped together: 4 at once, then 4 a second', () => {
    scheduler.run((helpers) => {
      const { cold, hot } = helpers;
      const ids = Array.from({ length: 100 }, (_, i) => `p${String(i).padStart(3, '0')}`);
      const dial = cold('-x');
      const drops = hot<string>('20s x', { x: 'network gone' });
      const { manager } = harness(scheduler, { peers: ids.map((id) => storedPeer(id)), dial: (id) => connectionsFrom(dial, id, () => drops) });
      at(helpers, 'x', () => void manager.connectAll());
      helpers.flush();
      const redials = dial.subscriptions.map((log) => log.subscribedFrame).filter((frame) => frame >= 20_000);
      expect(redials).toHaveLength(100);
      expect(redials.slice(0, 6)).toEqual([20_000, 20_000, 20_000, 20_000, 20_250, 20_500]);
      for (let second = 20_000; second < 50_000; second += 1_000) {
        expect(redials.filter((frame) => frame >= second && frame < second + 1_000).length).toBeLessThanOrEqual(7);
      }
      expect(Math.max(...redials)).toBe(20_000 + 96 * 250);
      expect(openAt(dial.subscriptions, 20_000)).toBe(4);
      expect(manager.getPeerStates().every((state) => state.status === 'connected')).toBe(true);
    });
  });

  it('after a silent outage of 60 s, the first attempt that can succeed starts within 3.5 s, 1.75 s on average', () => {
    // The connection was up for a while; 3 s into the outage the heartbeat gives up (the drop).
    // While the outage lasts, dials go unanswered and time out; after it, they answer in 10 ms.
    const waits: number[] = [];
    for (let offset = 0; offset < 3_500; offset += 250) {
      const run = newTestScheduler();
      run.run((helpers) => {
        const { cold, hot } = helpers;
        const outageEnds = 90_000 + offset;
        const hangs = cold('-');
        const answers = cold('10ms x');
        const drops = hot<string>('33s x', { x: 'The other device stopped answering.' });
        const first = cold('-x');
        let calls = 0;
        const { manager } = harness(run, {
          peers: [storedPeer('a')],
          dial: () =>
            defer(() => {
              calls += 1;
              if (calls === 1) return connectionsFrom(first, 'a', () => drops);
              return connectionsFrom(run.now() < outageEnds ? hangs : answers, 'a');
            }),
        });
        at(helpers, 'x', () => void manager.connectAll());
        at(helpers, '- 100s x', () => void manager.destroy());
        helpers.flush();
        const firstGood = answers.subscriptions[0]?.subscribedFrame ?? Number.POSITIVE_INFINITY;
        waits.push(firstGood - outageEnds);
        // Every attempt during the outage was cut at 3 s, never 10 s.
        for (const log of hangs.subscriptions) expect(log.unsubscribedFrame - log.subscribedFrame).toBeLessThanOrEqual(3_000);
      });
    }
    expect(Math.max(...waits)).toBeLessThanOrEqual(3_500);
    expect(waits.reduce((sum, wait) => sum + wait, 0) / waits.length).toBeLessThanOrEqual(2_000);
  });

  it('a peer that is back 1.5 s after the drop (a restart) is dialled again 2 to 2.5 s after it, not 3 to 3.5 s', () => {
    // Over QUIC the first attempt resends after about 1 s and then not before 3 s: a peer that came up in
    // between is reached by the second attempt. Here attempts made while the peer is down never answer.
    scheduler.run((helpers) => {
      const { cold, hot } = helpers;
      const first = cold('-x');
      const hangs = cold('-');
      const answers = cold('10ms x');
      const drops = hot<string>('20s x', { x: 'The other device stopped answering.' });
      let calls = 0;
      const { manager } = harness(scheduler, {
        peers: [storedPeer('a')],
        dial: () =>
          defer(() => {
            calls += 1;
            if (calls === 1) return connectionsFrom(first, 'a', () => drops);
            return connectionsFrom(scheduler.now() < 21_500 ? hangs : answers, 'a');
          }),
      });
      const seen: string[] = [];
      statusOf(manager, 'a').subscribe((status) => seen.push(`${status}@${scheduler.now()}`));
      at(helpers, 'x', () => void manager.connectAll());
      helpers.flush();
      expect(hangs.subscriptions.map((log) => [log.subscribedFrame, log.unsubscribedFrame])).toEqual([[20_000, 22_000]]);
      expect(answers.subscriptions.map((log) => log.subscribedFrame)).toEqual([22_500]);
      expect(seen.slice(-1)).toEqual(['o@22510']);
    });
  });

  it('after the quick phase, backs off exponentially to the cap with 10 s attempts', () => {
    scheduler.run((helpers) => {
      const { cold, hot } = helpers;
      const first = cold('-x');
      const hangs = cold('-');
      const drops = hot<string>('20s x', { x: 'lost' });
      let calls = 0;
      const { manager } = harness(scheduler, {
        peers: [storedPeer('a')],
        dial: () => ((calls += 1) === 1 ? connectionsFrom(first, 'a', () => drops) : connectionsFrom(hangs, 'a')),
      });
      at(helpers, 'x', () => void manager.connectAll());
      at(helpers, '- 10m x', () => void manager.destroy());
      helpers.flush();
      const starts = hangs.subscriptions.map((log) => log.subscribedFrame);
      const durations = hangs.subscriptions.map((log) => log.unsubscribedFrame - log.subscribedFrame);
      // Quick: at the drop (20 s), then 2.5 s later, then every 3.5 s until 110 s.
      const quick = starts.filter((frame) => frame < 110_000);
      expect(quick).toEqual([20_000, ...Array.from({ length: 25 }, (_, i) => 22_500 + i * 3_500)]);
      expect(durations.slice(0, 26)).toEqual([2_000, ...Array<number>(25).fill(3_000)]);
      // Then 10 s attempts: the last quick one (106.5 s) times out inside the quick phase and waits its jitter,
      // so the first slow one starts at 110 s; after it, waits of 1, 2, 4, 8, 16, 32 s, then 60 s.
      const slow = starts.filter((frame) => frame >= 110_000);
      const gaps = slow.slice(1).map((frame, i) => frame - slow[i]! - 10_000);
      expect(slow[0]).toBe(106_500 + 3_000 + 500);
      expect(gaps.slice(0, 8)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
    });
  });

  it('a peer that drops right after connecting (flapping) is redialled with backoff, not in a loop', () => {
    scheduler.run((helpers) => {
      const { cold, expectSubscriptions } = helpers;
      const dial = cold('-x');
      const { manager } = harness(scheduler, {
        peers: [storedPeer('a')],
        dial: () => connectionsFrom(dial, 'a', () => timer(500, scheduler).pipe(map(() => 'crashed'))),
      });
      at(helpers, 'x', () => void manager.connectAll());
      at(helpers, '- 9s x', () => void manager.destroy());
      // adopted at 1, dropped at 501: wait 1 s; adopted 1502, dropped 2002: 2 s; adopted 4003, dropped 4503: 4 s.
      expectSubscriptions(dial.subscriptions).toBe(['^!', '1501ms ^!', '4002ms ^!', '8503ms ^!']);
    });
  });

  it('a dial that fails at once, inside the subscription, waits its backoff like any other', () => {
    scheduler.run((helpers) => {
      const dialledAt: number[] = [];
      const { manager } = harness(scheduler, {
        peers: [storedPeer('a')],
        dial: () =>
          defer(() => {
            dialledAt.push(scheduler.now());
            return throwError(() => new Error('no route to host'));
          }),
      });
      at(helpers, 'x', () => void manager.connectToPeer('a'));
      at(helpers, '8s x', () => void manager.destroy());
      helpers.flush();
      expect(dialledAt).toEqual([0, 1_000, 3_000, 7_000]);
    });
  });

  it('removing a peer during its first wait after a drop cancels the wait: no dial follows', () => {
    scheduler.run((helpers) => {
      const { cold, hot, expectSubscriptions } = helpers;
      const dial = cold('-x');
      const drops = hot<string>('20s x', { x: 'lost' });
      const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
      const { manager } = harness(scheduler, { peers: ids.map((id) => storedPeer(id)), dial: (id) => connectionsFrom(dial, id, () => drops) });
      at(helpers, 'x', () => void manager.connectAll());
      // Six drops at once: e waits until 20.25 s, f until 20.5 s. f is removed at 20.1 s.
      at(helpers, '20100ms x', () => void manager.removePeer('f'));
      helpers.flush();
      const redials = dial.subscriptions.filter((log) => log.subscribedFrame >= 20_000).map((log) => log.subscribedFrame);
      expect(redials).toEqual([20_000, 20_000, 20_000, 20_000, 20_250]);
      expect(manager.getPeers().map((p) => p.nodeId)).toEqual(['a', 'b', 'c', 'd', 'e']);
    });
  });
});

describe('dials a person waits for go first (marbles)', () => {
  let scheduler: TestScheduler;
  beforeEach(() => {
    scheduler = newTestScheduler();
  });

  it('connectToPeer is not queued behind background redials to dead peers', () => {
    scheduler.run((helpers) => {
      const { cold, expectSubscriptions } = helpers;
      const dead = cold('-');
      const alive = cold('-x');
      const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
      const { manager } = harness(scheduler, {
        peers: ids.map((id) => storedPeer(id)),
        dial: (id) => (id === 'f' ? connectionsFrom(alive, 'f') : connectionsFrom(dead, id)),
      });
      at(helpers, 'x', () => void manager.connectAll());
      at(helpers, '1s x', () => void manager.connectToPeer('f'));
      // a..d hold the four background slots for their 10 s; e and f wait. Pressing connect moves f ahead.
      expectSubscriptions(alive.subscriptions).toBe('1s ^!');
      at(helpers, '- 2s x', () => {
        expect(manager.getPeerStates().find((s) => s.peer.nodeId === 'f')?.status).toBe('connected');
        expect(manager.getPeerStates().find((s) => s.peer.nodeId === 'e')?.status).toBe('connecting');
      });
      at(helpers, '- 3s x', () => void manager.destroy());
    });
  });

  it('joining with an invite is not queued behind background redials to dead peers', () => {
    scheduler.run((helpers) => {
      const { cold, expectSubscriptions } = helpers;
      const dead = cold('-');
      const inviterDial = cold('20ms x');
      const host = harness(scheduler, { options: { deviceName: () => 'Desk', newSecret: () => 'ab'.repeat(16) } });
      const text = host.manager.pairing.createInvite().text;
      const { manager } = harness(scheduler, {
        localId: 'j',
        peers: ['a', 'b', 'c', 'd', 'e'].map((id) => storedPeer(id)),
        dial: (id) => (id === 'm' ? connectionsFrom(inviterDial, 'm') : connectionsFrom(dead, id)),
      });
      at(helpers, 'x', () => void manager.connectAll());
      at(helpers, '500ms x', () => void manager.pairing.joinWithInvite(text).catch(() => undefined));
      expectSubscriptions(inviterDial.subscriptions).toBe('500ms ^ 19ms !');
      at(helpers, '- 3s x', () => void Promise.all([manager.destroy(), host.manager.destroy()]));
    });
  });
});

describe('giving up (marbles)', () => {
  let scheduler: TestScheduler;
  beforeEach(() => {
    scheduler = newTestScheduler();
  });

  it('a peer that refuses on purpose is not redialled: the loop gives up with the reason, on events$ too', () => {
    scheduler.run((helpers) => {
      const { cold, expectSubscriptions } = helpers;
      const refused = cold<PeerConnection>('-#', undefined, new PeerRefusedError(REASON_NOT_PAIRED));
      const { manager } = harness(scheduler, { peers: [storedPeer('a')], dial: () => refused });
      const events: PeerManagerEvent[] = [];
      manager.events$.subscribe((event) => events.push(event));
      at(helpers, 'x', () => void manager.connectAll());
      expectSubscriptions(refused.subscriptions).toBe('^!');
      helpers.flush();
      expect(events).toEqual([{ type: 'gave-up', nodeId: 'a', reason: REASON_NOT_PAIRED }]);
      expect(manager.getPeerStates()[0]).toMatchObject({ status: 'disconnected', lastError: REASON_NOT_PAIRED });
      expect(scheduler.actions.filter((action) => !action.closed)).toHaveLength(0);
    });
  });

  it('keeps what another device said as lastError only once it is safe to show', () => {
    scheduler.run((helpers) => {
      const { cold, hot } = helpers;
      const said = '\u001b]52;c;aGk=\u0007Go away\u202e';
      const refused = cold<PeerConnection>('-#', undefined, new PeerRefusedError(said));
      const dial = cold('-x');
      const drops = hot<string>('5s x', { x: said });
      let calls = 0;
      const { manager } = harness(scheduler, {
        peers: [storedPeer('a')],
        dial: () => ((calls += 1) === 1 ? connectionsFrom(dial, 'a', () => drops) : refused),
        options: { redial: { quickPhaseMs: 0 } },
      });
      const errors: (string | null)[] = [];
      manager.peerState$('a').subscribe((state) => errors.push(state.lastError));
      at(helpers, 'x', () => void manager.connectAll());
      helpers.flush();
      // The close reason (the drop) and the refusal (the redial) both arrive raw, and are kept safe.
      expect(new Set(errors.filter((e) => e !== null))).toEqual(new Set([']52;c;aGk= Go away']));
      expect(manager.getPeerStates()[0]).toMatchObject({ status: 'disconnected', lastError: ']52;c;aGk= Go away' });
      expect(calls).toBe(2);
    });
  });

  it('with maxDialRetries, gives up after that many retries and says why', () => {
    scheduler.run((helpers) => {
      const { cold, expectSubscriptions } = helpers;
      const failing = cold<PeerConnection>('-#', undefined, new Error('no route to host'));
      const { manager } = harness(scheduler, { peers: [storedPeer('a')], dial: () => failing, options: { maxDialRetries: 2 } });
      const events: PeerManagerEvent[] = [];
      manager.events$.subscribe((event) => events.push(event));
      at(helpers, 'x', () => void manager.connectAll());
      expectSubscriptions(failing.subscriptions).toBe(['^!', '1001ms ^!', '3002ms ^!']);
      helpers.flush();
      expect(events).toEqual([{ type: 'gave-up', nodeId: 'a', reason: 'no route to host' }]);
      expect(manager.getPeerStates()[0]).toMatchObject({ status: 'disconnected', lastError: 'no route to host' });
    });
  });

  it('connecting again after giving up dials again', () => {
    scheduler.run((helpers) => {
      const { cold, expectSubscriptions } = helpers;
      const refused = cold<PeerConnection>('-#', undefined, new PeerRefusedError(REASON_NOT_PAIRED));
      const { manager } = harness(scheduler, { peers: [storedPeer('a')], dial: () => refused });
      at(helpers, 'x', () => void manager.connectAll());
      at(helpers, '5s x', () => void manager.connectToPeer('a'));
      expectSubscriptions(refused.subscriptions).toBe(['^!', '5s ^!']);
    });
  });
});

describe('network triggers (marbles)', () => {
  it('end a wait between quick attempts at once', () => {
    const scheduler = newTestScheduler();
    scheduler.run((helpers) => {
      const { cold, hot, expectSubscriptions } = helpers;
      const first = cold('-x');
      const hangs = cold('-');
      const drops = hot<string>('20s x', { x: 'lost' });
      const networkBack = hot('22200ms n');
      let calls = 0;
      const { manager } = harness(scheduler, {
        peers: [storedPeer('a')],
        dial: () => ((calls += 1) === 1 ? connectionsFrom(first, 'a', () => drops) : connectionsFrom(hangs, 'a')),
        options: { redialTriggers$: networkBack },
      });
      at(helpers, 'x', () => void manager.connectAll());
      at(helpers, '24s x', () => void manager.destroy());
      // The first quick attempt times out at 22 s; the next would start at 22.5 s, but the network is back at 22.2 s.
      expectSubscriptions(hangs.subscriptions).toBe(['20s ^ 1999ms !', '22200ms ^ 1799ms !']);
    });
  });
});
