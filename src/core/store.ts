import { BehaviorSubject, distinctUntilChanged, map, shareReplay, type Observable } from 'rxjs';

export type Updater<S> = (state: S) => S;

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
  private readonly queue: Updater<S>[] = [];
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

  get destroyed(): boolean {
    return this.stopped;
  }

  update(updater: Updater<S>): void {
    if (this.stopped) return;
    this.queue.push(updater);
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        const previous = this.subject.getValue();
        let state: S;
        try {
          state = next(previous);
        } catch (error) {
          this.reportError(error);
          continue;
        }
        if (state !== previous && !this.stopped) this.subject.next(state);
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
