import {
  EMPTY,
  Observable,
  race,
  retry,
  take,
  throwError,
  timeout,
  timer,
  type MonoTypeOperatorFunction,
  type SchedulerLike,
} from 'rxjs';
import { ConnectTimeoutError } from './errors';

export interface BackoffConfig {
  /** Upper bound of the first delay, in ms. */
  readonly baseMs: number;
  /** No delay is ever longer than this, in ms. */
  readonly capMs: number;
  /** A source of numbers in [0, 1]; injected so specs are deterministic. */
  readonly random: () => number;
}

export const DEFAULT_BACKOFF: Omit<BackoffConfig, 'random'> = { baseMs: 1_000, capMs: 60_000 };

/**
 * Exponential backoff with full jitter: a uniformly random delay between 0
 * and min(cap, base * 2^(attempt-1)). Full jitter keeps many devices that lost
 * the same network from redialling in lockstep.
 * @param attempt 1 for the first retry
 */
export function fullJitterDelay(attempt: number, config: BackoffConfig): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 31);
  const ceiling = Math.min(config.capMs, config.baseMs * 2 ** exponent);
  const r = Math.min(Math.max(config.random(), 0), 1);
  return Math.round(r * ceiling);
}

/**
 * Waits the backoff delay for `attempt`, or less if `skipWait$` fires first
 * (a person pressed "connect", the network came back).
 */
export function backoffWait(
  attempt: number,
  config: BackoffConfig,
  scheduler: SchedulerLike,
  skipWait$?: Observable<unknown>,
): Observable<unknown> {
  const wait$ = timer(fullJitterDelay(attempt, config), scheduler);
  return skipWait$ ? race(wait$, skipWait$.pipe(take(1))) : wait$;
}

export interface RetryWithBackoffOptions {
  readonly backoff: BackoffConfig;
  readonly scheduler: SchedulerLike;
  /** Ends the current wait at once. */
  readonly skipWait$?: Observable<unknown>;
  /** Told of every failure before its wait starts. */
  readonly onRetry?: (error: unknown, attempt: number) => void;
  /** Asked after every failure; false completes the stream instead of retrying. */
  readonly shouldRetry?: (error: unknown, attempt: number) => boolean;
}

/**
 * Resubscribes to the source after each error, waiting with full-jitter
 * backoff. The attempt count resets when the source emits (a dial that
 * connected), so a peer that drops after an hour is redialled quickly.
 */
export function retryWithBackoff<T>(options: RetryWithBackoffOptions): MonoTypeOperatorFunction<T> {
  return retry<T>({
    resetOnSuccess: true,
    delay: (error: unknown, attempt: number) => {
      options.onRetry?.(error, attempt);
      if (options.shouldRetry && !options.shouldRetry(error, attempt)) return EMPTY;
      return backoffWait(attempt, options.backoff, options.scheduler, options.skipWait$);
    },
  });
}

/** Fails an attempt that has not emitted within `ms` with a ConnectTimeoutError. */
export function attemptTimeout<T>(ms: number, scheduler: SchedulerLike): MonoTypeOperatorFunction<T> {
  return timeout<T, Observable<never>>({
    first: ms,
    scheduler,
    with: () => throwError(() => new ConnectTimeoutError(ms)),
  });
}

/**
 * Lets at most `limit` subscriptions run at once; the rest wait in order. A
 * slot is held from subscription until the source completes, errors or is
 * unsubscribed, so wrap only the part that should count (the dial, not the
 * connection's whole life).
 */
export class ConcurrencyLimiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  run<T>(source: Observable<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      let state: 'waiting' | 'running' | 'done' = 'waiting';
      const start = (): void => {
        if (state !== 'waiting') return;
        state = 'running';
        this.running += 1;
        subscriber.add(source.subscribe(subscriber));
      };
      if (this.running < this.limit) start();
      else this.waiting.push(start);
      return () => {
        if (state === 'waiting') {
          const index = this.waiting.indexOf(start);
          if (index >= 0) this.waiting.splice(index, 1);
        } else if (state === 'running') {
          this.running -= 1;
          this.startNext();
        }
        state = 'done';
      };
    });
  }

  private startNext(): void {
    while (this.running < this.limit) {
      const next = this.waiting.shift();
      if (!next) return;
      next();
    }
  }
}
