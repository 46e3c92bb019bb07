import { Observable, take, type Subscription } from 'rxjs';

/**
 * `person`: a dial someone is waiting for (connect, add, join, accept).
 * `background`: start-up connects and redials.
 */
export type DialLane = 'person' | 'background';

class Lane {
  running = 0;
  readonly waiting: (() => void)[] = [];
  constructor(readonly limit: number) {}
}

/**
 * Caps how many dials run at once, in two lanes of `limit` slots each.
 * Background dials wait their turn in order; dials a person asked for have
 * their own slots, so they never wait behind redials to devices that are
 * offline (each of those holds its slot for a whole attempt timeout). A
 * background dial still waiting for a slot moves to the person lane when
 * `promote$` emits (someone pressed "connect" on that device).
 *
 * A slot is held from subscription until the source completes, errors or is
 * unsubscribed, so wrap only the dial, not the connection's whole life.
 */
export class DialLimiter {
  private readonly lanes: Record<DialLane, Lane>;

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
    this.lanes = { person: new Lane(limit), background: new Lane(limit) };
  }

  run<T>(source: Observable<T>, laneName: DialLane, promote$?: Observable<unknown>): Observable<T> {
    return new Observable<T>((subscriber) => {
      let state: 'waiting' | 'running' | 'done' = 'waiting';
      let lane = this.lanes[laneName];
      let promotion: Subscription | undefined;
      const start = (): void => {
        if (state !== 'waiting') return;
        state = 'running';
        promotion?.unsubscribe();
        lane.running += 1;
        subscriber.add(source.subscribe(subscriber));
      };
      const enqueue = (): void => {
        if (lane.running < lane.limit) start();
        else lane.waiting.push(start);
      };
      const leaveQueue = (): void => {
        const index = lane.waiting.indexOf(start);
        if (index >= 0) lane.waiting.splice(index, 1);
      };
      enqueue();
      if (state === 'waiting' && lane === this.lanes.background && promote$) {
        promotion = promote$.pipe(take(1)).subscribe(() => {
          if (state !== 'waiting') return;
          leaveQueue();
          lane = this.lanes.person;
          enqueue();
        });
      }
      return () => {
        promotion?.unsubscribe();
        if (state === 'waiting') {
          leaveQueue();
        } else if (state === 'running') {
          lane.running -= 1;
          this.startNext(lane);
        }
        state = 'done';
      };
    });
  }

  private startNext(lane: Lane): void {
    while (lane.running < lane.limit) {
      const next = lane.waiting.shift();
      if (!next) return;
      next();
    }
  }
}
