import { BehaviorSubject, Observable, Subscription, distinctUntilChanged, map, shareReplay, takeWhile } from 'rxjs';

export type Updater<S> = (state: S) => S;

interface Queued<S> {
  readonly updater: Updater<S>;
  readonly applied?: (state: S) => void;
}

/**
 * A BehaviorSubject holding immutable snapshots, changed only through pure
 * updater functions (the @ngrx/component-store shape).
 *
 * - An update requested while subscribers are being told of another one is
 *   queued and applied after, so every subscriber sees states in order.
 * - An updater that returns the same object emits nothing.
 * - An updater that throws is reported and skipped; the store keeps going.
 *   A subscriber that throws is isolated by rxjs itself (reported, not
 *   rethrown into the store).
 */
export class Store<S> {
  private readonly subject: BehaviorSubject<S>;
  private readonly queue: Queued<S>[] = [];
  private draining = false;
  private stopped = false;
  readonly state$: Observable<S>;

  constructor(
    initial: S,
    private readonly reportError: (error: unknown) => void,
  ) {
    this.subject = new BehaviorSubject(initial);
    this.state$ = this.subject.asObservable();
  }

  get snapshot(): S {
    return this.subject.getValue();
  }

  /**
   * Applies `updater`, now or, when asked from inside a subscriber, right after
   * the update being delivered. `applied` is called with the resulting state
   * once every subscriber has seen it: for a caller that acts on the outcome.
   */
  update(updater: Updater<S>, applied?: (state: S) => void): void {
    if (this.stopped) return;
    this.queue.push(applied ? { updater, applied } : { updater });
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        const previous = this.subject.getValue();
        let state: S;
        try {
          state = next.updater(previous);
        } catch (error) {
          this.reportError(error);
          continue;
        }
        if (state !== previous && !this.stopped) this.subject.next(state);
        next.applied?.(state);
      }
    } finally {
      this.draining = false;
    }
  }

  /** A derived stream that only emits when its projection changes; shared while anyone listens. */
  select<R>(project: (state: S) => R, equal?: (a: R, b: R) => boolean): Observable<R> {
    return this.state$.pipe(
      map(project),
      distinctUntilChanged(equal),
      shareReplay({ bufferSize: 1, refCount: true }),
    );
  }

  /** Completes every subscriber; later updates are ignored. */
  destroy(): void {
    this.stopped = true;
    this.queue.length = 0;
    this.subject.complete();
  }
}

/**
 * Runs `effect` for each key of a map stream while the key is in the map:
 * started when it appears, unsubscribed when it leaves or when the result is
 * unsubscribed. `value$` replays the key's current value, emits its changes and
 * completes when the key leaves. Errors of an effect are the effect's to handle.
 */
export function forEachKey<K, V>(
  map$: Observable<ReadonlyMap<K, V>>,
  effect: (key: K, value$: Observable<V>) => Observable<unknown>,
): Observable<never> {
  return new Observable<never>((subscriber) => {
    const running = new Map<K, Subscription>();
    const source = map$.subscribe({
      next: (current) => {
        for (const [key, subscription] of running) {
          if (current.has(key)) continue;
          running.delete(key);
          subscription.unsubscribe();
        }
        for (const key of current.keys()) {
          if (running.has(key)) continue;
          const value$ = map$.pipe(
            map((latest) => latest.get(key)),
            takeWhile((value): value is V => value !== undefined),
            distinctUntilChanged(),
          );
          const subscription = new Subscription();
          running.set(key, subscription);
          subscription.add(effect(key, value$).subscribe({ error: (error: unknown) => subscriber.error(error) }));
        }
      },
      error: (error: unknown) => subscriber.error(error),
      complete: () => subscriber.complete(),
    });
    return () => {
      source.unsubscribe();
      for (const subscription of running.values()) subscription.unsubscribe();
      running.clear();
    };
  });
}
