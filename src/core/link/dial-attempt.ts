import { map, take, throwError, timeout, type MonoTypeOperatorFunction, type Observable, type SchedulerLike } from 'rxjs';
import { ConnectTimeoutError, VaultPeersError } from '../errors';
import type { PeerConnection } from '../ports';

/** Fails an attempt that has not emitted within `ms` with a ConnectTimeoutError. */
export function attemptTimeout<T>(ms: number, scheduler: SchedulerLike): MonoTypeOperatorFunction<T> {
  return timeout<T, Observable<never>>({
    first: ms,
    scheduler,
    with: () => throwError(() => new ConnectTimeoutError(ms)),
  });
}

/** What to say when a dial reaches a device other than the one meant. */
export interface WrongDevice {
  /** Sent to the device that answered. */
  readonly tell: string;
  /** The error this side fails with. */
  readonly error: string;
}

/**
 * One dial attempt: the first connection the transport gives within
 * `timeoutMs`, checked to be the device that was meant. A connection to any
 * other device is closed and the attempt fails.
 */
export function dialAttempt(
  connect$: Observable<PeerConnection>,
  expectedNodeId: string,
  options: { readonly timeoutMs: number; readonly scheduler: SchedulerLike; readonly wrongDevice: WrongDevice },
): Observable<PeerConnection> {
  return connect$.pipe(
    take(1),
    attemptTimeout(options.timeoutMs, options.scheduler),
    map((connection) => {
      if (connection.remoteNodeId !== expectedNodeId) {
        connection.close(options.wrongDevice.tell);
        throw new VaultPeersError(options.wrongDevice.error);
      }
      return connection;
    }),
  );
}
