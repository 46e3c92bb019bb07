import { Observable, asyncScheduler, map, type SchedulerLike } from 'rxjs';
import type { SyncEvent } from '../../src/core/ports';
import { Burst } from '../../src/sync/burst';
import { goneDelay } from '../../src/sync/blob-fetcher';
import { ACK_MS, batchChanges, coalesceAcks, retryDelay, retryWhilePending, withPeriodicRescan } from '../../src/sync/timing';
import { newTestScheduler } from '../support/marbles';

describe('periodic rescans', () => {
  it('adds a rescan every period between the watcher\'s events, and stops with the watcher (its error included)', () => {
    newTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const events = hot('a 150ms b 200ms #');
      const out = events.pipe(withPeriodicRescan('r', 100, getScheduler()));
      // a at 0, r at 100, b at 151, r at 200 and 300, the watcher's error at 352 ends it all (no rescan at 400).
      expectObservable(out).toBe('a 99ms r 50ms b 48ms r 99ms r 51ms #');
      expectSubscriptions(events.subscriptions).toBe('^ 351ms !');
    });
  });
});

describe('batching disk events', () => {
  it('closes a batch after a quiet time, so a delete and a create in one burst meet (a move)', () => {
    newTestScheduler().run(({ hot, expectObservable }) => {
      const events = hot('d c 100ms x ----|');
      // d at 0, c at 1: quiet from 1 to 51. x at 102: the watcher completes at 107, which flushes it.
      const expected = '51ms a 55ms (b|)';
      const out = events.pipe(batchChanges(50, 1000, getScheduler()), map((batch) => batch.join('')));
      expectObservable(out).toBe(expected, { a: 'dc', b: 'x' });
    });
  });

  it('does not hold a batch longer than the maximum while events keep coming', () => {
    newTestScheduler().run(({ hot, expectObservable }) => {
      const events = hot('a 20ms b 20ms c 20ms d 20ms e 20ms f 20ms g');
      const out = events.pipe(batchChanges(25, 100, getScheduler()), map((batch) => batch.join('')));
      // a at 0 … e at 84 (never 25 ms quiet): cut at 100. f at 105, g at 126: quiet at 151.
      expectObservable(out, '^ 200ms !').toBe('100ms x 50ms y', { x: 'abcde', y: 'fg' });
    });
  });

  it('flushes what it holds when the watcher completes, and holds no timer once unsubscribed', () => {
    newTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const events = hot('a 10ms |');
      expectObservable(events.pipe(batchChanges(50, 1000, getScheduler()), map((b) => b.join('')))).toBe('11ms (x|)', { x: 'a' });
      const quiet = hot('a 100ms b');
      expectObservable(quiet.pipe(batchChanges(50, 1000, getScheduler()), map((b) => b.join(''))), '^ 20ms !').toBe('');
      expectSubscriptions(quiet.subscriptions).toBe('^ 20ms !');
    });
  });
});

describe('retrying writes that could not be done yet', () => {
  it('waits 100 ms, then doubles, while something is pending; stops when nothing is', () => {
    newTestScheduler().run(({ hot, cold, expectObservable }) => {
      const pending = hot('t 1s f', { t: true, f: false });
      const attempts: number[] = [];
      const scheduler = getScheduler();
      const out = retryWhilePending(pending, () => cold('(a|)').pipe(map(() => attempts.push(scheduler.now()))), scheduler);
      expectObservable(out, '^ 2s !').toBe('100ms a 199ms b 399ms c', { a: 1, b: 2, c: 3 });
    });
  });

  it('starts from the shortest delay again after a success', () => {
    newTestScheduler().run(({ hot, cold, expectObservable }) => {
      const pending = hot('t 150ms f 49ms t', { t: true, f: false });
      const out = retryWhilePending(pending, () => cold('(a|)'), getScheduler());
      // Pending again at 201 after a success at 151: the first retry is 100 ms later, not 200.
      expectObservable(out, '^ 400ms !').toBe('100ms a 200ms b', { a: 'a', b: 'a' });
    });
  });

  it('caps the delay at 30 s', () => {
    expect([0, 1, 2, 8, 9, 20].map(retryDelay)).toEqual([100, 200, 400, 25_600, 30_000, 30_000]);
  });

  it('asks a peer again for content it said was gone after 1 s, doubling to 1 min', () => {
    expect([0, 1, 5, 6, 30].map(goneDelay)).toEqual([1000, 2000, 32_000, 60_000, 60_000]);
  });
});

describe("a peer's started … progress … finished cycle", () => {
  function recordBurst(scheduler: SchedulerLike, script: (burst: Burst) => Record<string, () => void>, marbles: string, cold: (m: string) => Observable<string>): Observable<string> {
    return new Observable<string>((subscriber) => {
      const burst = new Burst(scheduler, 100, (e: SyncEvent) => subscriber.next(e.type === 'progress' ? `p${e.files.done}/${e.files.total}` : e.type));
      const steps = script(burst);
      const sub = cold(marbles).subscribe((step) => steps[step]!());
      return () => {
        sub.unsubscribe();
        burst.dispose();
      };
    });
  }

  it('reports progress at most once per period (first at once, the latest at the end of the period), never after finished', () => {
    newTestScheduler().run(({ cold, expectObservable }) => {
      const scheduler = getScheduler();
      const events = recordBurst(
        scheduler,
        (b) => {
          let n = 0;
          return { s: () => b.expect(['1', '2', '3', '4'], 400), d: () => b.done([String((n += 1))], 100), f: () => b.finish() };
        },
        's 10ms d 10ms d 150ms d 10ms f',
        cold,
      );
      // Work at 11 and 22 is reported when the period ends (100); the work at 173 is folded into the final progress.
      expectObservable(events).toBe('(ab) 96ms c 83ms (ef)', { a: 'started', b: 'p0/4', c: 'p2/4', e: 'p4/4', f: 'finished' });
    });
  });

  it('counts files, not messages: a note sent and received in one cycle is one file', () => {
    newTestScheduler().run(({ cold, expectObservable }) => {
      const events = recordBurst(
        getScheduler(),
        (b) => ({ s: () => b.done(['n'], 0), r: () => b.expect(['n'], 59), d: () => b.done(['n'], 59), f: () => b.finish() }),
        'r s d 200ms f',
        cold,
      );
      // Received (expected), sent and applied: one file throughout.
      expectObservable(events).toBe('(ab) 96ms c 102ms d', { a: 'started', b: 'p0/1', c: 'p1/1', d: 'finished' });
    });
  });

  it('starts a new cycle for the next burst', () => {
    newTestScheduler().run(({ cold, expectObservable }) => {
      const events = recordBurst(getScheduler(), (b) => ({ s: () => b.expect(['1'], 0), f: () => b.finish() }), 's 500ms f 500ms s 500ms f', cold);
      expectObservable(events).toBe('(ab) 497ms (cd) 497ms (ab) 497ms (cd)', { a: 'started', b: 'p0/1', c: 'p1/1', d: 'finished' });
    });
  });
});

/** Inside TestScheduler.run, asyncScheduler runs on virtual time: the engine's default scheduler is what is tested. */
function getScheduler(): SchedulerLike {
  return asyncScheduler;
}

describe('coalescing acknowledgements', () => {
  const acks = {
    c: { caughtUp: 9 },
    d: { caughtUp: 12 },
    p: { synced: 4 },
    s: { synced: 5, complete: true },
    t: { synced: 7 },
    u: { synced: 8 },
  };

  it("sends an applied change's synced and its echo's caught-up as one frame, as soon as the complete synced is there", () => {
    newTestScheduler().run(({ hot, expectObservable }) => {
      // A partial synced (entries applied, a note's content still coming) at 0, the echo's caught-up at 4, the complete
      // synced at 10: one acknowledgement at 10 with the highest of each. Then a complete one alone goes at once (30).
      const source = hot('p 3ms c 5ms s 19ms s', acks);
      expectObservable(source.pipe(coalesceAcks(ACK_MS, getScheduler())), '^ 600ms !').toBe('10ms x 19ms y', {
        x: { synced: 5, caughtUp: 9 },
        y: { synced: 5 },
      });
    });
  });

  it('sends what is not complete ACK_MS after the first of it, not stretched by later ones, and holds no timer once unsubscribed', () => {
    newTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const partial = hot(`c 99ms t 99ms d 99ms u`, acks);
      // c at 0, t at 100, d at 200: all at ACK_MS (250); u at 300 opens the next window, sent at 550.
      expectObservable(partial.pipe(coalesceAcks(ACK_MS, getScheduler())), '^ 800ms !').toBe(`${ACK_MS}ms x 299ms y`, {
        x: { synced: 7, caughtUp: 12 },
        y: { synced: 8 },
      });
      // Unsubscribed within the window (the session stopped): nothing is sent after.
      const cut = hot('c 5ms t', acks);
      expectObservable(cut.pipe(coalesceAcks(ACK_MS, getScheduler())), '^ 10ms !').toBe('');
      expectSubscriptions(cut.subscriptions).toBe('^ 10ms !');
    });
  });
});
