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
 *
 * A peer whose process is busy (thousands of strangers dialling it, a long
 * write) answers late although it is there. Its network stack still
 * acknowledges what this side sends, so when the probes go unanswered but
 * the connection kept receiving packets meanwhile (`received`, a counter
 * of datagrams), the watch starts over instead of giving up, for up to
 * `maxQuietMs` without a message. A killed peer or a cut network sends
 * nothing at all, and is still noticed after `lateMs + probes * probeMs`.
 */
import { type Observable, type SchedulerLike, asyncScheduler, concat, defer, interval, map, merge, of, startWith, switchMap, takeWhile, tap, timer } from 'rxjs';

export interface HeartbeatSchedule {
  /** A ping every this long, whatever else is sent. */
  readonly intervalMs: number;
  /** Silence after which the peer is probed. More than `intervalMs`, so a healthy peer is never probed. */
  readonly lateMs: number;
  /** How long each probe waits for an answer. */
  readonly probeMs: number;
  /** Probes left unanswered before the peer is declared gone. */
  readonly probes: number;
  /** Longest silence of a peer whose network stack still answers (see above). */
  readonly maxQuietMs: number;
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
export function heartbeat(schedule: HeartbeatSchedule, scheduler: SchedulerLike = asyncScheduler, received: () => number = () => 0) {
  return (heard$: Observable<unknown>): Observable<HeartbeatAction> =>
    defer(() => {
      const pings$ = interval(schedule.intervalMs, scheduler).pipe(map(() => PING));
      // Each step waits from the end of the previous one, not on a fixed grid: after the
      // event loop was blocked, a late timer fires once and the next probe still gets its
      // full window for the answer (already queued behind the timer) to be read.
      const watch = (quietSince: number): Observable<HeartbeatAction> =>
        defer(() => {
          // Packets received from when the peer is first found late: its stack answering what is sent from then on.
          let mark = 0;
          const late = timer(schedule.lateMs, scheduler).pipe(tap(() => (mark = received())));
          const steps = Array.from({ length: schedule.probes }, (_, i) => (i === 0 ? late : timer(schedule.probeMs, scheduler)).pipe(map(() => PROBE)));
          const verdict = (schedule.probes === 0 ? late : timer(schedule.probeMs, scheduler)).pipe(
            switchMap(() => {
              const quiet = scheduler.now() - quietSince;
              const stackAnswers = received() > mark && quiet < schedule.maxQuietMs;
              return stackAnswers ? watch(quietSince) : of<HeartbeatAction>({ type: 'gone', silentMs: quiet });
            }),
          );
          return concat(...steps, verdict);
        });
      const silence$ = heard$.pipe(
        startWith(null),
        switchMap(() => watch(scheduler.now())),
      );
      return merge(pings$, silence$).pipe(takeWhile((action) => action.type !== 'gone', true));
    });
}
