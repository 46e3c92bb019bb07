import { Observable, of } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { REASON_NOT_PAIRED } from '../../src/core/messages';
import { PeerManager } from '../../src/core/peer-manager';
import { writeInBackground } from '../../src/core/saves';
import { FakeConnection, FakeSyncEngine, FakeTransport, MemoryStorage } from '../support/fakes';
import { LOCAL_ID, storedPeer } from '../support/manager-harness';
import { newTestScheduler } from '../support/marbles';

describe('writeInBackground (marbles)', () => {
  let scheduler: TestScheduler;
  beforeEach(() => {
    scheduler = newTestScheduler();
  });

  /** States are letters; `written` is what the effect (or a command) wrote last. */
  function effect(write: (state: string) => Observable<unknown>, delayMs = 1_000) {
    let written = '-';
    const writes: string[] = [];
    const operator = writeInBackground<string>({
      write: (state) => {
        writes.push(`${state}@${scheduler.now()}`);
        return new Observable<unknown>((subscriber) =>
          write(state).subscribe({
            error: (error: unknown) => subscriber.error(error),
            complete: () => {
              written = state;
              subscriber.complete();
            },
          }),
        );
      },
      lastWritten: () => written,
      same: (a, b) => a === b,
      delayMs,
      scheduler,
    });
    return { operator, writes, setWritten: (state: string) => (written = state) };
  }

  it('gathers a burst of changes for 1 s and writes only the newest state', () => {
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const write = cold('100ms |');
      const { operator, writes } = effect(() => write);
      expectObservable(hot('-abc 5s d').pipe(operator)).toBe('');
      // a at 1 opens the window; c is the newest when it closes at 1001. d at 5004 opens another.
      expectSubscriptions(write.subscriptions).toBe(['1001ms ^ 99ms !', '6004ms ^ 99ms !']);
      scheduler.flush();
      expect(writes).toEqual(['c@1001', 'd@6004']);
    });
  });

  it('never runs two writes at once: changes during a slow write wait for it, then the newest is written', () => {
    scheduler.run(({ hot, cold, expectSubscriptions }) => {
      const write = cold('3s |');
      const { operator, writes } = effect(() => write);
      hot('a 1500ms b 500ms c 500ms d').pipe(operator).subscribe();
      // a written 1000-4000; b, c and d arrive meanwhile: one write, of d, once a's is done.
      expectSubscriptions(write.subscriptions).toBe(['1s ^ 2999ms !', '4s ^ 2999ms !']);
      scheduler.flush();
      expect(writes).toEqual(['a@1000', 'd@4000']);
    });
  });

  it('does not write again what a command has just saved', () => {
    scheduler.run(({ hot, cold, expectSubscriptions }) => {
      const write = cold('10ms |');
      const { operator, setWritten } = effect(() => write);
      hot('a 500ms b').pipe(operator).subscribe();
      hot('900ms x').subscribe(() => setWritten('b')); // a command saved b and awaited it
      expectSubscriptions(write.subscriptions).toBe([]);
    });
  });

  it('reports a failed write and writes again on the next change', () => {
    scheduler.run(({ hot, cold, expectObservable }) => {
      const error = new Error('disk full');
      let call = 0;
      const { operator, writes } = effect(() => ((call += 1) === 1 ? cold('5ms #', undefined, error) : cold('5ms |')));
      expectObservable(hot('a 2s b').pipe(operator)).toBe('1005ms e', { e: error });
      scheduler.flush();
      expect(writes).toEqual(['a@1000', 'b@3001']);
    });
  });
});

describe('background saves of the manager', () => {
  it('a refreshed ticket, a sync time and a blocked device’s refusals become one write; a command’s save is its own', async () => {
    const transport = new FakeTransport(LOCAL_ID, (nodeId) => of(new FakeConnection(nodeId, 'outgoing', { remoteTicket: 'fake:b ' })));
    const storage = MemoryStorage.with({ peers: [storedPeer('b')], blockedDevices: [{ nodeId: 'q', name: 'Q', blockedAt: '2024-01-01T00:00:00.000Z', refusals: 0 }] });
    const syncEngine = new FakeSyncEngine(() => of({ type: 'started' as const }, { type: 'finished' as const }));
    const manager = await PeerManager.open({ transport, syncEngine, storage, saveDelayMs: 50 });
    await manager.connectToPeer('b');
    transport.refused.next({ nodeId: 'q', reason: REASON_NOT_PAIRED });
    transport.refused.next({ nodeId: 'q', reason: REASON_NOT_PAIRED });
    expect(storage.writes).toBe(0);
    const deadline = Date.now() + 5_000;
    while (storage.writes === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(storage.writes).toBe(1);
    expect(storage.document).toMatchObject({
      peers: [expect.objectContaining({ ticket: 'fake:b ', lastSyncAt: expect.any(String) })],
      blockedDevices: [expect.objectContaining({ refusals: 2 })],
    });
    await manager.updatePeer('b', { name: 'Desk' });
    expect(storage.writes).toBe(2);
    await manager.destroy();
    expect(storage.writes).toBe(2);
  });
});
