import { ConnectTimeoutError, VaultPeersError } from '../../../src/core/errors';
import { attemptTimeout, dialAttempt } from '../../../src/core/link/dial-attempt';
import type { PeerConnection } from '../../../src/core/ports';
import { FakeConnection } from '../../support/fakes';
import { newTestScheduler } from '../../support/marbles';

describe('attemptTimeout (marbles)', () => {
  it('fails an attempt that has not emitted in time with a ConnectTimeoutError', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const dial = cold('-- 20s a');
      expectObservable(dial.pipe(attemptTimeout(10_000, scheduler))).toBe('10s #', undefined, new ConnectTimeoutError(10_000));
      expectSubscriptions(dial.subscriptions).toBe('^ 9999ms !');
    });
  });

  it('lets an attempt through that emits in time', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold('5s a|').pipe(attemptTimeout(10_000, scheduler))).toBe('5s a|');
    });
  });
});

describe('dialAttempt (marbles)', () => {
  const wrongDevice = { tell: 'not you', error: 'It led elsewhere.' };

  it('emits the first connection and stops listening to the transport', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = new FakeConnection('a', 'outgoing');
      const connect = cold<PeerConnection>('2s a', { a });
      expectObservable(dialAttempt(connect, 'a', { timeoutMs: 3_000, scheduler, wrongDevice })).toBe('2s (a|)', { a });
      expectSubscriptions(connect.subscriptions).toBe('^ 1999ms !');
    });
  });

  it('closes a connection to another device and fails with a reason', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const impostor = new FakeConnection('x', 'outgoing');
      expectObservable(dialAttempt(cold('-x', { x: impostor }), 'a', { timeoutMs: 3_000, scheduler, wrongDevice })).toBe(
        '-#',
        undefined,
        new VaultPeersError('It led elsewhere.'),
      );
      scheduler.flush();
      expect(impostor.closeReasons).toEqual(['not you']);
    });
  });
});
