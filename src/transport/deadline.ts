/**
 * The one timeout helper of the adapter. iroh's calls are promises that no
 * JavaScript can cancel, so a deadline does not stop them: it stops waiting
 * for them, and the caller closes whatever they were working on.
 */

/**
 * Runs `body` under one deadline shared by all of its steps: each step passed
 * to `within` rejects with `onTimeout()` once `ms` have passed since the start.
 * The timer is cleared however `body` ends.
 */
export async function withDeadline<T>(
  ms: number,
  onTimeout: () => Error,
  body: (within: <U>(step: Promise<U>) => Promise<U>) => Promise<T>,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  // Nobody may be racing it when it fires (the body moved on to something else).
  expired.catch(() => undefined);
  try {
    return await body((step) => Promise.race([step, expired]));
  } finally {
    clearTimeout(timer);
  }
}

/** One promise under a deadline. */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return withDeadline(ms, onTimeout, (within) => within(promise));
}
