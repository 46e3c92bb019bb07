/**
 * Failure detection for one connection, as a pure rxjs operator over the
 * messages heard from the other side. iroh alone notices a killed peer only
 * after its 30 s idle timeout.
 *
 * Steady state costs one ping per interval each way. When nothing has been
 * heard for `lateMs` (a ping is overdue), the peer is probed: a probe is a
 * message the other side answers at once, so a live peer is heard again
 * within a round trip. If `probes` probes in a row stay unanswered for
 * `probeMs` each, the peer is gone. Detection after a kill thus takes
 * `lateMs + probes * probeMs` after the last message heard, without sending
 * more than one ping per interval while the peer is healthy.
 */
import { type Observable, type SchedulerLike, asyncScheduler, concat, defer, interval, map, merge, startWith, switchMap, takeWhile, timer } from 'rxjs';

export interface HeartbeatSchedule {
  /** A ping every this long, whatever else is sent. */
  readonly intervalMs: number;
  /** Silence after which the peer is probed. More than `intervalMs`, so a healthy peer is never probed. */
  readonly lateMs: number;
  /** How long each probe waits for an answer. */
  readonly probeMs: number;
  /** Probes left unanswered before the peer is declared gone. */
  readonly probes: number;
}

export type HeartbeatAction =
  | { readonly type: 'ping' }
  | { readonly type: 'probe' }
  /** Nothing heard for `silentMs`: close the connection. The stream completes after this. */
  | { readonly type: 'gone'; readonly silentMs: number };

const PING: HeartbeatAction = { type: 'ping' };
const PROBE: HeartbeatAction = { type: 'probe' };

/** How long after the last message heard a silent peer is declared gone. */
export function silenceLimitMs(schedule: HeartbeatSchedule): number {
  return schedule.lateMs + schedule.probes * schedule.probeMs;
}

/**
 * `heard$` emits whenever anything arrives from the other side. The result
 * says what to send (`ping`, `probe`) and when to give up (`gone`).
 */
export function heartbeat(schedule: HeartbeatSchedule, scheduler: SchedulerLike = asyncScheduler) {
  return (heard$: Observable<unknown>): Observable<HeartbeatAction> =>
    defer(() => {
      const pings$ = interval(schedule.intervalMs, scheduler).pipe(map(() => PING));
      // Each step waits from the end of the previous one, not on a fixed grid: after the
      // event loop was blocked, a late timer fires once and the next probe still gets its
      // full window for the answer (already queued behind the timer) to be read.
      const gone: HeartbeatAction = { type: 'gone', silentMs: silenceLimitMs(schedule) };
      const steps = [
        ...Array.from({ length: schedule.probes }, (_, i) => timer(i === 0 ? schedule.lateMs : schedule.probeMs, scheduler).pipe(map(() => PROBE))),
        timer(schedule.probes === 0 ? schedule.lateMs : schedule.probeMs, scheduler).pipe(map(() => gone)),
      ];
      const silence$ = heard$.pipe(
        startWith(null),
        switchMap(() => concat(...steps)),
      );
      return merge(pings$, silence$).pipe(takeWhile((action) => action.type !== 'gone', true));
    });
}
