/**
 * Streams the other device opened, handed to whoever asked for their
 * protocol. One that arrives before anyone asks is held for a moment (the
 * subscriber may be on its way); then, or when too many are held, it is
 * declined, which the other side reads as "nobody here takes this protocol".
 */
import { Observable, type SchedulerLike, type Subscriber, type Subscription, asyncScheduler, timer } from 'rxjs';

export interface OfferedStream {
  readonly protocol: string;
  /** Turns the stream away (reset with the "declined" code). */
  decline(): void;
}

export interface HoldLimits {
  readonly maxHeld: number;
  readonly holdMs: number;
}

export class IncomingStreams<S extends OfferedStream> {
  private readonly subscribers = new Map<string, Subscriber<S>[]>();
  private readonly held: { stream: S; expiry: Subscription }[] = [];
  private ended = false;

  constructor(
    private readonly limits: HoldLimits,
    private readonly scheduler: SchedulerLike = asyncScheduler,
  ) {}

  /** A stream arrived: to the first subscriber of its protocol, else held, else declined. */
  offer(stream: S): void {
    const subscriber = this.subscribers.get(stream.protocol)?.[0];
    if (subscriber) {
      subscriber.next(stream);
      return;
    }
    if (this.ended || this.held.length >= this.limits.maxHeld) {
      stream.decline();
      return;
    }
    const entry = {
      stream,
      expiry: timer(this.limits.holdMs, this.scheduler).subscribe(() => {
        this.unhold(entry);
        stream.decline();
      }),
    };
    this.held.push(entry);
  }

  /** Streams of `protocol`, held ones first. Completes when the connection ends. */
  streams(protocol: string): Observable<S> {
    return new Observable<S>((subscriber) => {
      if (this.ended) {
        subscriber.complete();
        return undefined;
      }
      const list = this.subscribers.get(protocol) ?? [];
      list.push(subscriber);
      this.subscribers.set(protocol, list);
      if (list[0] === subscriber) {
        for (const entry of this.held.filter((e) => e.stream.protocol === protocol)) {
          this.unhold(entry);
          subscriber.next(entry.stream);
        }
      }
      return () => {
        const remaining = (this.subscribers.get(protocol) ?? []).filter((s) => s !== subscriber);
        if (remaining.length > 0) this.subscribers.set(protocol, remaining);
        else this.subscribers.delete(protocol);
      };
    });
  }

  /** The connection ended: held streams are declined, subscribers complete. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const entry of [...this.held]) {
      this.unhold(entry);
      entry.stream.decline();
    }
    for (const list of [...this.subscribers.values()]) for (const subscriber of [...list]) subscriber.complete();
    this.subscribers.clear();
  }

  /** Streams held now, for leak checks. */
  get heldCount(): number {
    return this.held.length;
  }

  private unhold(entry: { stream: S; expiry: Subscription }): void {
    entry.expiry.unsubscribe();
    const index = this.held.indexOf(entry);
    if (index >= 0) this.held.splice(index, 1);
  }
}
