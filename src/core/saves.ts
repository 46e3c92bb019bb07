import {
  BehaviorSubject,
  audit,
  catchError,
  concatMap,
  defer,
  filter,
  finalize,
  from,
  ignoreElements,
  of,
  switchMap,
  take,
  timer,
  type Observable,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs';
import { sameStoredState, type PeerRepository, type StoredState } from './persistence';

/** How long background changes gather before one write takes them all. */
export const BACKGROUND_SAVE_DELAY_MS = 1_000;

export interface BackgroundWriteOptions<S> {
  /** Writes one state; cold (subscribing starts the write), completes when it is done. */
  readonly write: (state: S) => Observable<unknown>;
  /** The state last written, by this effect or by a command; not written again. */
  readonly lastWritten: () => S;
  readonly same: (a: S, b: S) => boolean;
  readonly delayMs: number;
  readonly scheduler: SchedulerLike;
}

/**
 * The background save effect over a stream of what is stored: the first
 * change opens a window of `delayMs`, and when it closes (and no write is
 * running) the newest state is written, one write at a time. A burst of
 * refreshed tickets, sync times and refusal counts becomes one write, and a
 * state a command already saved is not written twice. Emits the error of each
 * failed write; never errors itself.
 */
export function writeInBackground<S>(options: BackgroundWriteOptions<S>): OperatorFunction<S, unknown> {
  return (stored$) =>
    defer(() => {
      const writing$ = new BehaviorSubject(false);
      const idle$ = writing$.pipe(filter((writing) => !writing));
      return stored$.pipe(
        audit(() => timer(options.delayMs, options.scheduler).pipe(switchMap(() => idle$), take(1))),
        filter((state) => !options.same(state, options.lastWritten())),
        concatMap((state) => {
          writing$.next(true);
          return options.write(state).pipe(
            ignoreElements(),
            catchError((error: unknown) => of(error)),
            finalize(() => writing$.next(false)),
          );
        }),
      );
    });
}

/**
 * Every write of the peers document: awaited ones for commands that must
 * report failure, and the one background effect for everything else.
 */
export class Saves {
  private written: StoredState;

  constructor(
    private readonly repository: PeerRepository,
    loaded: StoredState,
  ) {
    this.written = loaded;
  }

  /** Writes `state` now; rejects when it could not be written (the caller undoes its change). */
  async now(state: StoredState): Promise<void> {
    await this.repository.save(state);
    this.written = state;
  }

  /** The background effect: emits each failed write's error. */
  inBackground(stored$: Observable<StoredState>, scheduler: SchedulerLike, delayMs = BACKGROUND_SAVE_DELAY_MS): Observable<unknown> {
    return stored$.pipe(
      writeInBackground({
        write: (state) => defer(() => from(this.now(state))),
        lastWritten: () => this.written,
        same: sameStoredState,
        delayMs,
        scheduler,
      }),
    );
  }

  /** Writes `state` if it has not been written yet, then waits for every write. Never rejects. */
  async flush(state: StoredState): Promise<void> {
    if (!sameStoredState(state, this.written)) await this.now(state).catch(() => undefined);
    await this.repository.flush();
  }
}
