import { DialLimiter } from '../../../src/core/link/dial-limiter';
import { newTestScheduler } from '../../support/marbles';

describe('DialLimiter (marbles)', () => {
  it('runs at most N at once in a lane; the rest start in order as slots free up', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const limiter = new DialLimiter(2);
      const dials = [cold('---a|'), cold('-----b|'), cold('--c|'), cold('-d|')];
      dials.forEach((dial, i) => expectObservable(limiter.run(dial, 'background')).toBe(['---a|', '-----b|', '------c|', '-------d|'][i]!));
      expectSubscriptions(dials[0]!.subscriptions).toBe('^---!');
      expectSubscriptions(dials[1]!.subscriptions).toBe('^-----!');
      expectSubscriptions(dials[2]!.subscriptions).toBe('----^--!');
      expectSubscriptions(dials[3]!.subscriptions).toBe('------^-!');
    });
  });

  it('drops a waiting entry that is unsubscribed and frees the slot of a cancelled one', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const limiter = new DialLimiter(1);
      const first = cold('----------a|');
      const second = cold('-b|');
      const third = cold('-c|');
      expectObservable(limiter.run(first, 'background'), '^--!').toBe('');
      expectObservable(limiter.run(second, 'background'), '^-!').toBe('');
      expectObservable(limiter.run(third, 'background')).toBe('----c|');
      expectSubscriptions(first.subscriptions).toBe('^--!');
      expectSubscriptions(second.subscriptions).toBe([]);
      expectSubscriptions(third.subscriptions).toBe('---^-!');
    });
  });

  it('a dial a person asked for never waits behind background dials to dead devices', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const limiter = new DialLimiter(2);
      const dead = [1, 2, 3, 4].map(() => cold('10s #'));
      for (const dial of dead) limiter.run(dial, 'background').subscribe({ error: () => undefined });
      const join = cold('50ms j|');
      hot('1s x').subscribe(() => expectObservable(limiter.run(join, 'person')).toBe('1050ms j|'));
      expectSubscriptions(join.subscriptions).toBe('1s ^ 50ms !');
      // The background lane is untouched: the third and fourth dead dials start when the first two fail.
      expectSubscriptions(dead[2]!.subscriptions).toBe('10s ^ 9999ms !');
    });
  });

  it('moves a background dial that still waits for a slot to the person lane when promoted', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, hot, expectSubscriptions }) => {
      const limiter = new DialLimiter(1);
      const dead = cold('10s #');
      limiter.run(dead, 'background').subscribe({ error: () => undefined });
      const queued = cold('20ms x|');
      const running = cold('5s x|');
      const pressedConnect = hot('2s p');
      limiter.run(queued, 'background', pressedConnect).subscribe();
      // Promotion comes too late for one that already runs: nothing changes for it.
      hot('10s x').subscribe(() => limiter.run(running, 'background', hot('11s p')).subscribe());
      expectSubscriptions(queued.subscriptions).toBe('2s ^ 20ms !');
      expectSubscriptions(pressedConnect.subscriptions).toBe('^ 1999ms !');
      expectSubscriptions(running.subscriptions).toBe('10s ^ 5000ms !');
    });
  });

  it('rejects a limit below one', () => {
    expect(() => new DialLimiter(0)).toThrow(RangeError);
  });
});
