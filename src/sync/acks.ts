import { Subject, type SchedulerLike, type Subscription } from 'rxjs';
import { ACK_MS, coalesceAcks, type Ack } from './timing';
import type { SyncMessage } from './wire';

/**
 * A session's acknowledgements (docs/SYNC.md, "The protocol"), kept to one
 * frame per applied change and none in reply to an acknowledgement:
 *
 * - `synced` tells the peer how far its index is applied and stored here. It
 *   is owed for the peer's entries, not for a `caught-up` alone: answering
 *   that would only acknowledge an acknowledgement.
 * - `caught-up` for an echo (a record taken exactly as the peer sent it)
 *   tells the peer it holds this device's index up to there. It needs no
 *   answer: the peer has those records, it made them. So this device counts
 *   them as confirmed as soon as everything it really sent is (`confirmed`);
 *   a peer that lost them says so in its next HELLO and is sent them again.
 * - Both are gathered (see `coalesceAcks`) until a `synced` covers
 *   everything received (at most ACK_MS), and go as one frame: `synced`
 *   carrying the `caught-up` when there are both.
 */
export class Acks {
  private readonly requests = new Subject<Ack>();
  private readonly subscription: Subscription;
  /** The highest `synced` asked for. */
  private syncedTo = 0;
  /** The highest sequence number of ours covered by a `caught-up` for echoes. */
  private echoedTo = 0;
  /** Acknowledgements gathered and not sent yet. */
  private gathered = 0;

  /** @param sent called after each acknowledgement is handed to `send` */
  constructor(scheduler: SchedulerLike, send: (message: SyncMessage) => void, sent: () => void) {
    this.subscription = this.requests.pipe(coalesceAcks(ACK_MS, scheduler)).subscribe((ack) => {
      this.gathered = 0;
      if (ack.synced !== undefined) send({ type: 'synced', seq: ack.synced, caughtUp: ack.caughtUp ?? 0 });
      else if (ack.caughtUp !== undefined) send({ type: 'caught-up', seq: ack.caughtUp });
      sent();
    });
  }

  /** Whether an acknowledgement is waiting to go: a sync is not finished before the peer was told everything. */
  get owed(): boolean {
    return this.gathered > 0;
  }

  /**
   * `seen` moved (or `always`: the peer's catch-up ended). Owed when it
   * covers entries the peer sent that were not acknowledged yet.
   * @param received the highest sequence number of the peer's entries received
   */
  seen(seen: number, received: number, always: boolean): void {
    if (!always && Math.min(seen, received) <= this.syncedTo) return;
    this.syncedTo = Math.max(this.syncedTo, seen);
    this.gathered += 1;
    this.requests.next({ synced: seen, complete: seen >= received });
  }

  /** Our records up to `seq` left out because the peer made them (echoes): the peer is told it has them. */
  echoed(seq: number): void {
    this.echoedTo = Math.max(this.echoedTo, seq);
    this.gathered += 1;
    this.requests.next({ caughtUp: seq });
  }

  /**
   * How far the peer holds our index: what it confirmed, and past it the
   * echoes it was told of, once everything we really sent is confirmed.
   * @param sent the highest sequence number of ours sent as an entry
   */
  confirmed(acked: number, sent: number): number {
    return acked >= sent ? Math.max(acked, this.echoedTo) : acked;
  }

  get describe(): string {
    return `s${this.syncedTo} e${this.echoedTo}`;
  }

  stop(): void {
    this.subscription.unsubscribe();
    this.requests.complete();
  }
}
