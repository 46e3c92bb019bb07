import { distinctUntilChanged, map, scan } from 'rxjs';
import { REASON_DISCONNECTED, REASON_REMOVED_BY_PEER, syncFailed } from '../../../src/core/messages';
import { peerReducer, reduceLink, type LinkRules } from '../../../src/core/link/link-reducer';
import {
  NO_PEERS,
  isTrying,
  peerStateSelector,
  statusOf,
  type LinkEvent,
  type LinkState,
  type PeerEntries,
  type PeerEntry,
  type PeerEvent,
} from '../../../src/core/link/link-state';
import type { PeerConnection, SyncEvent } from '../../../src/core/ports';
import { FakeConnection } from '../../support/fakes';
import { storedPeer } from '../../support/manager-harness';
import { newTestScheduler } from '../../support/marbles';

// This device is 'm'. Peer 'a' sorts below it (its dial wins a simultaneous dial), 'z' above (ours wins).
const rules: LinkRules = { localNodeId: 'm', stableAfterMs: 10_000 };
const out = new FakeConnection('a', 'outgoing');
const inc = new FakeConnection('a', 'incoming');
const other = new FakeConnection('a', 'incoming');
const zOut = new FakeConnection('z', 'outgoing', { remoteInstanceId: 'z1' });
const zIn = new FakeConnection('z', 'incoming', { remoteInstanceId: 'z1' });
const zRestarted = new FakeConnection('z', 'incoming', { remoteInstanceId: 'z2' });

const base = { lastError: null, unstableDrops: 0 } as const;
const idle: LinkState = { mode: 'idle', ...base };
const paused: LinkState = { mode: 'paused', ...base };
const dialing = (over: Partial<Extract<LinkState, { mode: 'dialing' }>> = {}): LinkState => ({
  mode: 'dialing',
  attempt: 1,
  urgent: false,
  droppedAt: null,
  ...base,
  ...over,
});
const waiting = (over: Partial<Extract<LinkState, { mode: 'waiting' }>> = {}): LinkState => ({
  mode: 'waiting',
  attempt: 2,
  nextDialAt: 5_000,
  droppedAt: null,
  ...base,
  lastError: 'lost',
  ...over,
});
const connected = (connection: PeerConnection, over: Partial<Extract<LinkState, { mode: 'connected' }>> = {}): LinkState => ({
  mode: 'connected',
  connection,
  since: 0,
  dialPending: false,
  ...base,
  ...over,
});
const syncing = (connection: PeerConnection, over: Partial<Extract<LinkState, { mode: 'syncing' }>> = {}): LinkState => ({
  mode: 'syncing',
  connection,
  since: 0,
  dialPending: false,
  progress: null,
  ...base,
  ...over,
});
const progress = { files: { done: 1, total: 4 }, bytes: { done: 10, total: 400 } };
const sync = (event: SyncEvent, connection: PeerConnection = out, at = 7_000): LinkEvent => ({ type: 'sync', connection, event, at });

const entry = (link: LinkState, nodeId = 'a', peer = {}): PeerEntry => ({ peer: storedPeer(nodeId, peer), link });

describe('the link reducer: (state, event) => state', () => {
  it.each<[string, LinkState, LinkEvent, LinkState | 'same']>([
    // commands
    ['connect from idle dials, marked urgent when someone waits', idle, { type: 'connect', urgent: true }, dialing({ urgent: true })],
    ['connect after a refusal dials, keeping the reason until it connects', { mode: 'refused', lastError: 'removed', unstableDrops: 0 }, { type: 'connect', urgent: false }, dialing({ lastError: 'removed' })],
    ['connect from paused dials', paused, { type: 'connect', urgent: false }, dialing()],
    ['connect while waiting skips the wait, same attempt', waiting({ droppedAt: 100 }), { type: 'connect', urgent: true }, dialing({ attempt: 2, urgent: true, droppedAt: 100, lastError: 'lost' })],
    ['an urgent connect promotes a background dial', dialing(), { type: 'connect', urgent: true }, dialing({ urgent: true })],
    ['a background connect leaves an urgent dial alone', dialing({ urgent: true }), { type: 'connect', urgent: false }, 'same'],
    ['connect while connected does nothing', connected(out), { type: 'connect', urgent: true }, 'same'],
    ['disconnect pauses, clearing the error', waiting(), { type: 'disconnect' }, paused],
    ['disconnect while paused does nothing', paused, { type: 'disconnect' }, 'same'],
    // the dial loop
    ['an attempt starting ends the wait', waiting(), { type: 'dial-started' }, dialing({ attempt: 2, lastError: 'lost' })],
    ['an attempt starting while dialing changes nothing', dialing(), { type: 'dial-started' }, 'same'],
    ['the first redial after a drop gets its time', waiting({ attempt: 1 }), { type: 'dial-scheduled', nextDialAt: 750 }, waiting({ attempt: 1, nextDialAt: 750 })],
    ['a failed attempt waits for the next, with the reason', dialing({ attempt: 2, urgent: true }), { type: 'dial-failed', reason: 'timed out', nextDialAt: 9_000 }, waiting({ attempt: 3, nextDialAt: 9_000, lastError: 'timed out' })],
    ['a failed dial of ours while connected through theirs is forgotten', connected(inc, { dialPending: true }), { type: 'dial-failed', reason: 'x', nextDialAt: 1 }, connected(inc)],
    ['giving up after a refusal stops redialling and keeps why', dialing(), { type: 'gave-up', reason: 'not paired', refused: true }, { mode: 'refused', lastError: 'not paired', unstableDrops: 0 }],
    ['giving up when the attempts ran out goes idle with why', waiting(), { type: 'gave-up', reason: 'timed out', refused: false }, { mode: 'idle', lastError: 'timed out', unstableDrops: 0 }],
    // connections
    ['a connection is adopted, clearing the error', waiting(), { type: 'offered', connection: out, at: 5 }, connected(out, { since: 5 })],
    ['a paused peer’s connection is not adopted', paused, { type: 'offered', connection: inc, at: 5 }, 'same'],
    ['their connection while we dial, when theirs wins: ours is dropped', dialing(), { type: 'offered', connection: inc, at: 5 }, connected(inc, { since: 5 })],
    ['their connection while our winning dial is under way: it may still land', dialing(), { type: 'offered', connection: zIn, at: 5 }, connected(zIn, { since: 5, dialPending: true })],
    ['a duplicate of the same instance that loses the tie-break is not adopted', connected(zOut), { type: 'offered', connection: zIn, at: 5 }, 'same'],
    ['a connection from a restarted peer replaces the stale one', connected(zOut), { type: 'offered', connection: zRestarted, at: 5 }, connected(zRestarted, { since: 5 })],
    ['a stable connection that drops is redialled at once, quick for a while', connected(out, { since: 0 }), { type: 'closed', connection: out, reason: 'lost', at: 20_000 }, waiting({ attempt: 1, nextDialAt: 20_000, droppedAt: 20_000 })],
    ['a connection that drops soon after opening counts as a flap', connected(out, { since: 0, unstableDrops: 2 }), { type: 'closed', connection: out, reason: 'lost', at: 2_000 }, waiting({ attempt: 1, nextDialAt: 2_000, unstableDrops: 3 })],
    ['a peer that removed us is not redialled', connected(out), { type: 'closed', connection: out, reason: REASON_REMOVED_BY_PEER, at: 20_000 }, { mode: 'refused', lastError: REASON_REMOVED_BY_PEER, unstableDrops: 0 }],
    ['a close without a reason says the other device disconnected', connected(out), { type: 'closed', connection: out, reason: '', at: 20_000 }, waiting({ attempt: 1, nextDialAt: 20_000, droppedAt: 20_000, lastError: REASON_DISCONNECTED })],
    ['a drop while our dial is under way goes back to that dial', connected(zIn, { dialPending: true }), { type: 'closed', connection: zIn, reason: 'lost', at: 20_000 }, dialing({ droppedAt: 20_000, lastError: 'lost' })],
    ['the end of a connection that is not the current one changes nothing', connected(out), { type: 'closed', connection: other, reason: 'lost', at: 1 }, 'same'],
    // sync
    ['a sync starting shows syncing', connected(out), sync({ type: 'started' }), syncing(out)],
    ['progress is kept while syncing', syncing(out), sync({ type: 'progress', ...progress }), syncing(out, { progress })],
    ['a sync of another connection changes nothing', connected(out), sync({ type: 'started' }, other), 'same'],
    ['a merge changes nothing about the link', syncing(out), sync({ type: 'merged', path: 'a.md' }), 'same'],
    ['a failed sync leaves the connection, with why', syncing(out), { type: 'sync-ended', connection: out, error: 'vault locked' }, connected(out, { lastError: syncFailed('vault locked') })],
    ['a sync that completes while syncing ends it', syncing(out), { type: 'sync-ended', connection: out }, connected(out)],
    ['a sync that completes while connected changes nothing', connected(out), { type: 'sync-ended', connection: out }, 'same'],
  ])('%s', (_name, link, event, expected) => {
    const before = entry(link, event.type === 'offered' || event.type === 'closed' ? ('connection' in event ? event.connection.remoteNodeId : 'a') : 'a');
    const after = reduceLink(before, event, rules);
    if (expected === 'same') expect(after).toBe(before);
    else expect(after.link).toEqual(expected);
  });

  it('after a drop, a peer that is not auto-connected is left idle', () => {
    const after = reduceLink(entry(connected(out), 'a', { autoConnect: false }), { type: 'closed', connection: out, reason: 'lost', at: 20_000 }, rules);
    expect(after.link).toEqual({ mode: 'idle', lastError: 'lost', unstableDrops: 0 });
  });

  it('a finished sync ends syncing and records lastSyncAt on the peer', () => {
    const after = reduceLink(entry(syncing(out)), sync({ type: 'finished' }, out, Date.parse('2026-01-02T03:04:05Z')), rules);
    expect(after.link).toEqual(connected(out));
    expect(after.peer.lastSyncAt).toBe('2026-01-02T03:04:05.000Z');
  });

  it('an adopted connection brings its checked fresh ticket into the record; a refused one does not', () => {
    const adopted = reduceLink(entry(idle), { type: 'offered', connection: out, at: 1, ticket: 'fake:a-moved' }, rules);
    expect(adopted.peer.ticket).toBe('fake:a-moved');
    const refused = entry(paused);
    expect(reduceLink(refused, { type: 'offered', connection: inc, at: 1, ticket: 'fake:a-moved' }, rules)).toBe(refused);
  });

  it('reports trying (the dial loop runs) while dialing, waiting, or while our winning dial is under way', () => {
    expect([idle, dialing(), waiting(), connected(out), connected(zIn, { dialPending: true }), paused].map(isTrying)).toEqual([
      false,
      true,
      true,
      false,
      true,
      false,
    ]);
    expect([idle, dialing(), waiting(), connected(out), syncing(out), paused].map(statusOf)).toEqual([
      'disconnected',
      'connecting',
      'disconnected',
      'connected',
      'syncing',
      'disconnected',
    ]);
  });
});

describe('the peers reducer: records and links together', () => {
  const reduce = peerReducer(rules);
  const withA = reduce(NO_PEERS, { type: 'added', peer: storedPeer('a') });

  it('adds a peer idle, once', () => {
    expect(withA.get('a')).toEqual({ peer: storedPeer('a'), link: idle });
    expect(reduce(withA, { type: 'added', peer: storedPeer('a', { name: 'again' }) })).toBe(withA);
  });

  it('removes a peer; removing an unknown one, or any event for one, changes nothing', () => {
    expect(reduce(withA, { type: 'removed', nodeId: 'a' }).size).toBe(0);
    expect(reduce(withA, { type: 'removed', nodeId: 'x' })).toBe(withA);
    expect(reduce(withA, { nodeId: 'x', type: 'connect', urgent: true })).toBe(withA);
  });

  it('changes record fields, and returns the same map when nothing changed', () => {
    const renamed = reduce(withA, { type: 'changed', nodeId: 'a', changes: { name: 'Desk', ticket: 'fake:a2' } });
    expect(renamed.get('a')?.peer).toEqual(storedPeer('a', { name: 'Desk', ticket: 'fake:a2' }));
    expect(reduce(renamed, { type: 'changed', nodeId: 'a', changes: { name: 'Desk' } })).toBe(renamed);
  });

  it('auto-connect off stops redialling but keeps a live connection; on again dials at once', () => {
    const redialling = reduce(withA, { nodeId: 'a', type: 'dial-failed', reason: 'lost', nextDialAt: 1 });
    const dialingA = reduce(withA, { nodeId: 'a', type: 'connect', urgent: false });
    const stopped = reduce(reduce(dialingA, { nodeId: 'a', type: 'dial-failed', reason: 'lost', nextDialAt: 1 }), {
      type: 'changed',
      nodeId: 'a',
      changes: { autoConnect: false },
    });
    expect(redialling).toBe(withA);
    expect(stopped.get('a')?.link).toEqual({ mode: 'idle', lastError: 'lost', unstableDrops: 0 });
    const live = reduce(withA, { nodeId: 'a', type: 'offered', connection: out, at: 1 });
    expect(reduce(live, { type: 'changed', nodeId: 'a', changes: { autoConnect: false } }).get('a')?.link).toBe(live.get('a')?.link);
    const on = reduce(stopped, { type: 'changed', nodeId: 'a', changes: { autoConnect: true } });
    expect(on.get('a')?.link).toEqual(dialing({ urgent: true, lastError: 'lost' }));
  });
});

describe('the reducer over a stream of events (marbles, no manager)', () => {
  const letter = { disconnected: 'd', connecting: 'c', connected: 'o', syncing: 's' } as const;

  it('connect, fail, wait, connect, sync, drop, redial: each status as the events say', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const connection = new FakeConnection('a', 'outgoing');
      const events: Record<string, PeerEvent> = {
        a: { type: 'added', peer: storedPeer('a') },
        c: { nodeId: 'a', type: 'connect', urgent: true },
        f: { nodeId: 'a', type: 'dial-failed', reason: 'lost', nextDialAt: 1_000 },
        t: { nodeId: 'a', type: 'dial-started' },
        o: { nodeId: 'a', type: 'offered', connection, at: 0 },
        s: { nodeId: 'a', type: 'sync', connection, event: { type: 'started' }, at: 0 },
        p: { nodeId: 'a', type: 'sync', connection, event: { type: 'progress', ...progress }, at: 0 },
        e: { nodeId: 'a', type: 'sync', connection, event: { type: 'finished' }, at: 0 },
        x: { nodeId: 'a', type: 'closed', connection, reason: 'lost', at: 30_000 },
        n: { nodeId: 'a', type: 'dial-scheduled', nextDialAt: 30_250 },
      };
      const reduce = peerReducer(rules);
      const statuses = hot('a-cf 1s t-o-s-p-e 30s x-n-t', events).pipe(
        scan((entries: PeerEntries, event: PeerEvent) => reduce(entries, event), NO_PEERS),
        map((entries) => letter[statusOf(entries.get('a')?.link ?? { mode: 'idle', lastError: null, unstableDrops: 0 })]),
        distinctUntilChanged(),
      );
      // Progress (p) keeps syncing; the first redial after the drop is scheduled (n) before it starts (t).
      expectObservable(statuses).toBe('d-cd 1s c-o-s---o 30s d---c');
    });
  });

  it('the derived PeerState stays the same object while what it shows is unchanged', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const reduce = peerReducer(rules);
      const select = peerStateSelector();
      const events: Record<string, PeerEvent> = {
        a: { type: 'added', peer: storedPeer('a') },
        c: { nodeId: 'a', type: 'connect', urgent: false },
        f: { nodeId: 'a', type: 'dial-failed', reason: 'lost', nextDialAt: 1_000 },
        n: { nodeId: 'a', type: 'dial-scheduled', nextDialAt: 2_000 },
        b: { type: 'added', peer: storedPeer('b') },
      };
      const states = hot('a-c-f-n-b', events).pipe(
        scan((entries: PeerEntries, event: PeerEvent) => reduce(entries, event), NO_PEERS),
        map((entries) => select(entries).get('a')),
        distinctUntilChanged(),
        map((state) => `${state?.status}:${state?.lastError}`),
      );
      // A new redial time (n) and another peer (b) leave a's state as it was.
      expectObservable(states).toBe('a-c-f', { a: 'disconnected:null', c: 'connecting:null', f: 'disconnected:lost' });
    });
  });
});
