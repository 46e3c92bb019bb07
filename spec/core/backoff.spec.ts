import fc from 'fast-check';
import { Observable } from 'rxjs';
import {
  ConcurrencyLimiter,
  attemptTimeout,
  fullJitterDelay,
  retryWithBackoff,
  type BackoffConfig,
} from '../../src/core/backoff';
import { ConnectTimeoutError } from '../../src/core/errors';
import { newTestScheduler } from '../support/marbles';

const ceiling: BackoffConfig = { baseMs: 1_000, capMs: 60_000, random: () => 1 };

describe('fullJitterDelay', () => {
  it('doubles from the base up to the cap', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8, 50].map((attempt) => fullJitterDelay(attempt, ceiling));
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  });

  it('stays within [0, min(cap, base * 2^(n-1))] for any random value and attempt', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (attempt, r) => {
        const delay = fullJitterDelay(attempt, { baseMs: 1_000, capMs: 60_000, random: () => r });
        const bound = Math.min(60_000, 1_000 * 2 ** Math.min(attempt - 1, 31));
        return delay >= 0 && delay <= bound;
      }),
    );
  });

  it('uses the injected random source (full jitter, not equal jitter)', () => {
    expect(fullJitterDelay(3, { ...ceiling, random: () => 0 })).toBe(0);
    expect(fullJitterDelay(3, { ...ceiling, random: () => 0.25 })).toBe(1_000);
  });

  it('clamps a random source that strays outside [0, 1]', () => {
    expect(fullJitterDelay(1, { ...ceiling, random: () => 7 })).toBe(1_000);
    expect(fullJitterDelay(1, { ...ceiling, random: () => -1 })).toBe(0);
  });
});

describe('retryWithBackoff (marbles)', () => {
  it('waits 1 s, 2 s, 4 s then the cap between failures', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const dial = cold('-#');
      const backoff = { baseMs: 1_000, capMs: 4_000, random: () => 1 };
      const result = dial.pipe(retryWithBackoff({ backoff, scheduler: scheduler }));
      expectObservable(result, '^ 20s !').toBe('');
      expectSubscriptions(dial.subscriptions).toBe([
        '^!',
        '1001ms ^!', // 1 s after the first failure
        '3002ms ^!', // 2 s after the second
        '7003ms ^!', // 4 s after the third
        '11004ms ^!', // capped at 4 s
        '15005ms ^!',
        '19006ms ^!',
      ]);
    });
  });

  it('resets the schedule after the source emits (a dial that connected)', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const dial = cold('-#');
      const connectsThenDrops = cold('-a#');
      let call = 0;
      const source = new Observable<string>((subscriber) => {
        call += 1;
        return (call === 3 ? connectsThenDrops : dial).subscribe(subscriber);
      });
      const backoff = { baseMs: 1_000, capMs: 60_000, random: () => 1 };
      const result = source.pipe(retryWithBackoff({ backoff, scheduler: scheduler }));
      // fail at 1, retry at 1001 (1 s), fail at 1002, retry at 3002 (2 s), connect at 3003,
      // drop at 3004: the count was reset, so the wait is 1 s again, not 4 s.
      expectObservable(result, '^ 4100ms !').toBe('3003ms a');
      expectSubscriptions(dial.subscriptions).toBe(['^!', '1001ms ^!', '4004ms ^!']);
    });
  });

  it('skips the wait when skipWait$ fires and keeps counting attempts', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const dial = cold('-#');
      const skip = hot('500ms s');
      const backoff = { baseMs: 1_000, capMs: 60_000, random: () => 1 };
      const result = dial.pipe(retryWithBackoff({ backoff, scheduler: scheduler, skipWait$: skip }));
      expectObservable(result, '^ 5s !').toBe('');
      // fail at 1, skip at 500 -> redial at 500, fail at 501, attempt 2 waits 2 s -> 2501, fail 2502, 4 s -> 6502
      expectSubscriptions(dial.subscriptions).toBe(['^!', '500ms ^!', '2501ms ^!']);
    });
  });

  it('completes instead of retrying when shouldRetry says no, and reports each failure', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const dial = cold('-#', undefined, new Error('refused'));
      const failures: string[] = [];
      const result = dial.pipe(
        retryWithBackoff({
          backoff: ceiling,
          scheduler: scheduler,
          onRetry: (error, attempt) => failures.push(`${attempt}:${(error as Error).message}`),
          shouldRetry: (_error, attempt) => attempt < 2,
        }),
      );
      expectObservable(result).toBe('1002ms |');
      expectSubscriptions(dial.subscriptions).toBe(['^!', '1001ms ^!']);
    });
  });
});

describe('attemptTimeout (marbles)', () => {
  it('fails an attempt that has not emitted in time with a ConnectTimeoutError', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const dial = cold('-- 20s a');
      expectObservable(dial.pipe(attemptTimeout(10_000, scheduler))).toBe(
        '10s #',
        undefined,
        new ConnectTimeoutError(10_000),
      );
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

describe('ConcurrencyLimiter (marbles)', () => {
  it('runs at most N at once; the rest start in order as slots free up', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const limiter = new ConcurrencyLimiter(2);
      const dials = [cold('---a|'), cold('-----b|'), cold('--c|'), cold('-d|')];
      dials.forEach((dial, i) => expectObservable(limiter.run(dial)).toBe(['---a|', '-----b|', '------c|', '-------d|'][i]!));
      expectSubscriptions(dials[0]!.subscriptions).toBe('^---!');
      expectSubscriptions(dials[1]!.subscriptions).toBe('^-----!');
      expectSubscriptions(dials[2]!.subscriptions).toBe('----^--!');
      expectSubscriptions(dials[3]!.subscriptions).toBe('------^-!');
    });
  });

  it('drops a waiting entry that is unsubscribed and frees the slot of a cancelled one', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const limiter = new ConcurrencyLimiter(1);
      const first = cold('----------a|');
      const second = cold('-b|');
      const third = cold('-c|');
      expectObservable(limiter.run(first), '^--!').toBe('');
      expectObservable(limiter.run(second), '^-!').toBe('');
      expectObservable(limiter.run(third)).toBe('----c|');
      expectSubscriptions(first.subscriptions).toBe('^--!');
      expectSubscriptions(second.subscriptions).toBe([]);
      expectSubscriptions(third.subscriptions).toBe('---^-!');
    });
  });

  it('rejects a limit below one', () => {
    expect(() => new ConcurrencyLimiter(0)).toThrow(RangeError);
  });
});

