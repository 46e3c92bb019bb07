import fc from 'fast-check';
import { Observable } from 'rxjs';
import { fullJitterDelay, retryWithBackoff, type BackoffConfig, type Failure } from '../../../src/core/link/backoff';
import { newTestScheduler } from '../../support/marbles';

const ceiling: BackoffConfig = { baseMs: 1_000, capMs: 60_000, random: () => 1 };
const exponential = (config: BackoffConfig) => (attempt: number) => fullJitterDelay(attempt, config);

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
      const result = dial.pipe(retryWithBackoff({ delay: exponential(backoff), scheduler }));
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
      const result = source.pipe(retryWithBackoff({ delay: exponential(backoff), scheduler }));
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
      const result = dial.pipe(retryWithBackoff({ delay: exponential(backoff), scheduler, skipWait$: skip }));
      expectObservable(result, '^ 5s !').toBe('');
      // fail at 1, skip at 500 -> redial at 500, fail at 501, attempt 2 waits 2 s -> 2501, fail 2502, 4 s -> 6502
      expectSubscriptions(dial.subscriptions).toBe(['^!', '500ms ^!', '2501ms ^!']);
    });
  });

  it('tells onFailure of every failure, with the wait before the next attempt', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const dial = cold('-#', undefined, new Error('timed out'));
      const failures: Failure[] = [];
      const result = dial.pipe(
        retryWithBackoff({ delay: exponential({ ...ceiling, capMs: 2_000 }), scheduler, onFailure: (failure) => failures.push(failure) }),
      );
      expectObservable(result, '^ 4s !').toBe('');
      scheduler.flush();
      expect(failures.map((f) => [f.attempt, f.retryInMs, (f.error as Error).message])).toEqual([
        [1, 1_000, 'timed out'],
        [2, 2_000, 'timed out'],
        [3, 2_000, 'timed out'],
      ]);
    });
  });

  it('rethrows an error that retrying cannot fix at once, and tells onFailure it gave up', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const refused = new Error('refused on purpose');
      const lost = new Error('lost');
      const first = cold<string>('-#', undefined, lost);
      const second = cold<string>('-#', undefined, refused);
      let call = 0;
      const dial = new Observable<string>((subscriber) => ((call += 1) === 1 ? first : second).subscribe(subscriber));
      const failures: Failure[] = [];
      const result = dial.pipe(
        retryWithBackoff({
          delay: exponential(ceiling),
          scheduler,
          isRetryable: (error) => error !== refused,
          onFailure: (failure) => failures.push(failure),
        }),
      );
      // lost at 1, retried at 1001, refused at 1002: rethrown, not completed.
      expectObservable(result).toBe('1002ms #', undefined, refused);
      scheduler.flush();
      expect(call).toBe(2);
      expect(failures.map((f) => [f.attempt, f.retryInMs, f.error])).toEqual([
        [1, 1_000, lost],
        [2, null, refused],
      ]);
      expectSubscriptions(first.subscriptions).toBe('^!');
      expectSubscriptions(second.subscriptions).toBe('1001ms ^!');
    });
  });

  it('gives up after `count` retries, rethrowing the last error', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const error = new Error('unreachable');
      const dial = cold('-#', undefined, error);
      const given: (number | null)[] = [];
      const result = dial.pipe(
        retryWithBackoff({ delay: () => 1_000, scheduler, count: 2, onFailure: (failure) => given.push(failure.retryInMs) }),
      );
      expectObservable(result).toBe('2003ms #', undefined, error);
      expectSubscriptions(dial.subscriptions).toBe(['^!', '1001ms ^!', '2002ms ^!']);
      scheduler.flush();
      expect(given).toEqual([1_000, 1_000, null]);
    });
  });
});
