import {
  EMPTY,
  Observable,
  catchError,
  concat,
  defer,
  distinctUntilChanged,
  filter,
  ignoreElements,
  map,
  merge,
  race,
  skip,
  switchMap,
  take,
  tap,
  timer,
  type SchedulerLike,
} from 'rxjs';
import { PeerRefusedError, errorMessage } from '../errors';
import { safeRemoteText } from '../remote-text';
import { REASON_PAUSED, REASON_REMOVED, REASON_REPLACED, REASON_SHUTTING_DOWN } from '../messages';
import type { CloseKind, PeerConnection, SyncEvent } from '../ports';
import { retryWithBackoff } from './backoff';
import type { DialLane } from './dial-limiter';
import { connectionOf, isLive, isTrying, type LinkEvent, type PeerEntry } from './link-state';
import { RedialPlan, type DropPacer, type RedialOptions } from './redial-schedule';

/**
 * Why a dial or a connection ended, fit to keep as lastError: it may carry
 * text the other device chose (its close reason, a refusal), so control
 * characters and bidi overrides go before any view or terminal shows it.
 */
function reasonOf(error: unknown): string {
  return safeRemoteText(errorMessage(error), 300);
}

/** What a peer's effects need: the state to follow, and the ports to act on. */
export interface LinkEffectsContext {
  readonly scheduler: SchedulerLike;
  readonly redial: RedialOptions;
  readonly random: () => number;
  readonly pacer: DropPacer;
  /** Each emission ends every redial wait (the network came back, the app resumed). */
  readonly redialTriggers$: Observable<unknown>;
  /** Redials after failures before the loop gives up; undefined: never. */
  readonly maxDialRetries: number | undefined;
  /** The peer's entry now (undefined once removed). */
  entry(nodeId: string): PeerEntry | undefined;
  dispatch(nodeId: string, event: LinkEvent): void;
  /** One attempt: limited to a dial slot in `lane` (moving to the person lane on `promote$`), timed out, checked. */
  dial(nodeId: string, timeoutMs: number, lane: DialLane, promote$: Observable<unknown>): Observable<PeerConnection>;
  sync(connection: PeerConnection): Observable<SyncEvent>;
  /** A connection the dial loop got: offered to the state, closed if not adopted. */
  offer(connection: PeerConnection): void;
  /** Told to listeners: sync events, the loop giving up, the peer removing us. */
  notify(nodeId: string, notice: LinkNotice): void;
}

export type LinkNotice =
  | { readonly type: 'sync'; readonly event: SyncEvent }
  | { readonly type: 'gave-up'; readonly reason: string }
  | { readonly type: 'closed'; readonly reason: string };

/**
 * A peer's effects, all driven by its entry: the dial loop runs while the link
 * is trying to connect, and the current connection is watched (its end, its
 * sync) while it is the current one, and closed when the state lets go of it.
 */
export function linkEffects(nodeId: string, entry$: Observable<PeerEntry>, context: LinkEffectsContext): Observable<never> {
  const dialLoop$ = entry$.pipe(
    map((entry) => isTrying(entry.link)),
    distinctUntilChanged(),
    switchMap((trying) => (trying ? redialLoop(nodeId, entry$, context) : EMPTY)),
  );
  const connection$ = entry$.pipe(
    map((entry) => connectionOf(entry.link)),
    distinctUntilChanged(),
    switchMap((connection) => (connection ? watch(nodeId, connection, context) : EMPTY)),
  );
  return merge(dialLoop$, connection$);
}

/**
 * Dials until connected: a first wait after a drop (paced across peers), then
 * attempts with a retry/backoff schedule. The wait ends early when the state
 * says to dial now (a command, the network back).
 */
function redialLoop(nodeId: string, entry$: Observable<PeerEntry>, context: LinkEffectsContext): Observable<never> {
  return defer(() => {
    const { scheduler } = context;
    const start = context.entry(nodeId)?.link;
    if (!start || (start.mode !== 'dialing' && start.mode !== 'waiting')) return EMPTY;
    const now = (): number => scheduler.now();
    const plan = new RedialPlan(context.redial, context.random, start.droppedAt, now);
    // Changes from here on: the current entry may not show an update queued while it is delivered
    // (a failure reported from inside a synchronous dial), so it must not end a wait by itself.
    const changes$ = entry$.pipe(skip(1));
    // A wait ends early when the state comes to say "dial now" (a command), or the network came back.
    const dialNow$ = merge(changes$.pipe(filter((entry) => entry.link.mode === 'dialing')), context.redialTriggers$);
    const urgent$ = changes$.pipe(filter((entry) => entry.link.mode === 'dialing' && entry.link.urgent));

    const firstWait$ =
      start.mode === 'waiting'
        ? defer(() => {
            const due = Math.max(context.pacer.reserve(now()), now() + plan.firstDelay(start.unstableDrops));
            if (due <= now()) return EMPTY;
            context.dispatch(nodeId, { type: 'dial-scheduled', nextDialAt: due });
            return race(timer(due - now(), scheduler), dialNow$).pipe(take(1), ignoreElements());
          })
        : EMPTY;

    const attempts$ = defer(() => {
      context.dispatch(nodeId, { type: 'dial-started' });
      const link = context.entry(nodeId)?.link;
      const lane: DialLane = link?.mode === 'dialing' && link.urgent ? 'person' : 'background';
      return context.dial(nodeId, plan.attemptStarted(), lane, urgent$);
    }).pipe(
      retryWithBackoff({
        scheduler,
        delay: () => plan.delayAfterFailure(),
        ...(context.maxDialRetries === undefined ? {} : { count: context.maxDialRetries }),
        // A deliberate refusal will not change by asking again.
        isRetryable: (error) => !(error instanceof PeerRefusedError),
        onFailure: ({ error, retryInMs }) => {
          if (retryInMs !== null) context.dispatch(nodeId, { type: 'dial-failed', reason: reasonOf(error), nextDialAt: now() + retryInMs });
        },
        skipWait$: dialNow$,
      }),
    );

    return concat(firstWait$, attempts$).pipe(
      take(1),
      tap((connection) => context.offer(connection)),
      catchError((error: unknown) => {
        const reason = reasonOf(error);
        context.dispatch(nodeId, { type: 'gave-up', reason, refused: error instanceof PeerRefusedError });
        context.notify(nodeId, { type: 'gave-up', reason });
        return EMPTY;
      }),
      ignoreElements(),
    );
  });
}

/** Watches the current connection: its end and its sync. When the state lets go of it first, closes it saying why. */
function watch(nodeId: string, connection: PeerConnection, context: LinkEffectsContext): Observable<never> {
  return new Observable<never>(() => {
    let ended = false;
    if (connection.direction === 'incoming') connection.accept?.();
    const subscription = connection.closed$.pipe(take(1)).subscribe((said) => {
      ended = true;
      const reason = reasonOf(said);
      context.dispatch(nodeId, { type: 'closed', connection, reason, at: context.scheduler.now() });
      context.notify(nodeId, { type: 'closed', reason });
    });
    if (!ended) {
      subscription.add(
        defer(() => context.sync(connection)).subscribe({
          next: (event) => {
            context.dispatch(nodeId, { type: 'sync', connection, event, at: context.scheduler.now() });
            context.notify(nodeId, { type: 'sync', event });
          },
          error: (error: unknown) => context.dispatch(nodeId, { type: 'sync-ended', connection, error: reasonOf(error) }),
          complete: () => context.dispatch(nodeId, { type: 'sync-ended', connection }),
        }),
      );
    }
    return () => {
      subscription.unsubscribe();
      if (ended) return;
      const { reason, kind } = farewell(context.entry(nodeId), connection);
      connection.close(reason, kind);
    };
  });
}

/** Why this device closes a connection the state no longer holds. */
export function farewell(entry: PeerEntry | undefined, connection: PeerConnection): { reason: string; kind: CloseKind } {
  if (!entry) return { reason: REASON_REMOVED, kind: 'removed' };
  if (entry.link.mode === 'paused') return { reason: REASON_PAUSED, kind: 'normal' };
  if (isLive(entry.link) && entry.link.connection !== connection) return { reason: REASON_REPLACED, kind: 'normal' };
  // Still the current connection: the effects were stopped because the manager shuts down.
  return { reason: REASON_SHUTTING_DOWN, kind: 'normal' };
}
