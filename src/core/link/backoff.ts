import { race, retry, take, throwError, timer, type MonoTypeOperatorFunction, type Observable, type SchedulerLike } from 'rxjs';

export interface BackoffConfig {
  /** Upper bound of the first delay, in ms. */
  readonly baseMs: number;
  /** No delay is ever longer than this, in ms. */
  readonly capMs: number;
  /** A source of numbers in [0, 1]; injected so specs are deterministic. */
  readonly random: () => number;
}

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

/** One failed attempt, as `retryWithBackoff` reports it. */
export interface Failure {
  readonly error: unknown;
  /** 1 for the first failure since the source last emitted. */
  readonly attempt: number;
  /** How long until the next attempt, or null when this failure ends the retries and is rethrown. */
  readonly retryInMs: number | null;
}

export interface RetryWithBackoffOptions {
  readonly scheduler: SchedulerLike;
  /** The wait after failure number `attempt`, in ms (for example `fullJitterDelay`). */
  readonly delay: (attempt: number) => number;
  /** Retries at most this many times, then rethrows the last error. Default: no limit. */
  readonly count?: number;
  /** False for an error that retrying cannot fix: it is rethrown at once. Default: every error is retried. */
  readonly isRetryable?: (error: unknown) => boolean;
  /** Told of every failure, retried or not, before its wait starts. */
  readonly onFailure?: (failure: Failure) => void;
  /** Ends the current wait at once (a person asked, the network came back). */
  readonly skipWait$?: Observable<unknown>;
}

/**
 * rxjs `retry` with a backoff wait between attempts. The attempt count resets
 * when the source emits (a dial that connected), so a peer that drops after
 * an hour starts again from the shortest wait.
 */
export function retryWithBackoff<T>(options: RetryWithBackoffOptions): MonoTypeOperatorFunction<T> {
  return retry<T>({
    resetOnSuccess: true,
    delay: (error: unknown, attempt: number) => {
      const retryable = (options.count === undefined || attempt <= options.count) && (options.isRetryable?.(error) ?? true);
      if (!retryable) {
        options.onFailure?.({ error, attempt, retryInMs: null });
        return throwError(() => error);
      }
      const retryInMs = Math.max(0, options.delay(attempt));
      options.onFailure?.({ error, attempt, retryInMs });
      const wait$ = timer(retryInMs, options.scheduler);
      return options.skipWait$ ? race(wait$, options.skipWait$.pipe(take(1))) : wait$;
    },
  });
}
