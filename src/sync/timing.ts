import { EMPTY, Observable, concatMap, defer, distinctUntilChanged, interval, map, merge, repeat, switchMap, timer, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';

/**
 * Batches bursts of disk events: a batch closes after `quietMs` without an
 * event, or `maxMs` after its first event when events keep coming (a long
 * copy into the folder still syncs as it goes). A delete and a create of the
 * same content in one batch are paired into a move, so the quiet time is
 * also the rename window. On the injected scheduler, for marble specs.
 */
export function batchChanges<T>(quietMs: number, maxMs: number, scheduler: SchedulerLike): OperatorFunction<T, T[]> {
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let batch: T[] = [];
      let quiet: Subscription | null = null;
      let max: Subscription | null = null;
      const flush = (): void => {
        quiet?.unsubscribe();
        max?.unsubscribe();
        quiet = null;
        max = null;
        if (batch.length === 0) return;
        const out = batch;
        batch = [];
        subscriber.next(out);
      };
      const subscription = source.subscribe({
        next: (value) => {
          batch.push(value);
          quiet?.unsubscribe();
          quiet = scheduler.schedule(flush, quietMs);
          max ??= scheduler.schedule(flush, maxMs);
        },
        error: (error: unknown) => {
          flush();
          subscriber.error(error);
        },
        complete: () => {
          flush();
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        quiet?.unsubscribe();
        max?.unsubscribe();
      };
    });
}

/** Delays between retries of writes that could not be done yet: 100 ms doubling to 30 s. */
export function retryDelay(attempt: number): number {
  return Math.min(30_000, 100 * 2 ** Math.min(attempt, 9));
}

/**
 * While `pending$` says true, runs `attempt` after retryDelay(0), then again
 * after retryDelay(1)... until `pending$` says false (which cancels a
 * waiting retry); the next true starts again from the shortest delay.
 */
export function retryWhilePending(pending$: Observable<boolean>, attempt: () => Observable<unknown>, scheduler: SchedulerLike): Observable<unknown> {
  return pending$.pipe(
    distinctUntilChanged(),
    switchMap((pending) => {
      if (!pending) return EMPTY;
      let n = 0;
      return defer(() => timer(retryDelay(n++), scheduler)).pipe(
        concatMap(() => attempt()),
        repeat(),
      );
    }),
  );
}

/** How often the whole folder is compared with the index anyway, in ms: Syncthing's default full rescan, one hour. */
export const RESCAN_MS = 60 * 60 * 1000;

/**
 * Adds `rescan` to a watcher's events every `everyMs`: a watcher may drop
 * events (an overflow it does not report, a file changed while the device
 * slept), and only a comparison of the whole folder finds those changes.
 */
export function withPeriodicRescan<T>(rescan: T, everyMs: number, scheduler: SchedulerLike): OperatorFunction<T, T> {
  return (source) => merge(source, interval(everyMs, scheduler).pipe(map(() => rescan)));
}

/** An acknowledgement a session owes its peer: how far it applied the peer's index (`synced`), how far its own index is with the peer through echoes (`caughtUp`). */
export interface Ack {
  readonly synced?: number;
  readonly caughtUp?: number;
  /** The `synced` covers everything received from the peer (nothing is waiting for note content): no fuller one is coming. */
  readonly complete?: boolean;
}

/** How long an acknowledgement waits for a complete `synced` to go with it. */
export const ACK_MS = 250;

/**
 * Gathers acknowledgements into one (the highest of each kind), so the
 * `synced` of an applied change and the `caught-up` of its echo travel in
 * one frame, not two: the echo's `caught-up` is known when the change is
 * stored, and waits for the `synced` the session sends once it stored how
 * far it got. A complete `synced` sends what is gathered at once; anything
 * else goes `waitMs` after the first acknowledgement of the window at the
 * latest (a window is never stretched by later ones). Data is never
 * delayed: only acknowledgements go through here.
 */
export function coalesceAcks(waitMs: number, scheduler: SchedulerLike): OperatorFunction<Ack, Ack> {
  return (source) =>
    new Observable<Ack>((subscriber) => {
      let synced: number | undefined;
      let caughtUp: number | undefined;
      let timer: Subscription | null = null;
      const flush = (): void => {
        timer?.unsubscribe();
        timer = null;
        if (synced === undefined && caughtUp === undefined) return;
        const ack: Ack = { ...(synced !== undefined ? { synced } : {}), ...(caughtUp !== undefined ? { caughtUp } : {}) };
        synced = caughtUp = undefined;
        subscriber.next(ack);
      };
      const subscription = source.subscribe({
        next: (ack) => {
          if (ack.synced !== undefined) synced = Math.max(synced ?? 0, ack.synced);
          if (ack.caughtUp !== undefined) caughtUp = Math.max(caughtUp ?? 0, ack.caughtUp);
          if (ack.complete === true) flush();
          else timer ??= scheduler.schedule(flush, waitMs);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          flush();
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        timer?.unsubscribe();
      };
    });
}
