import type { SubscriptionLog } from 'rxjs/internal/testing/SubscriptionLog';
import { TestScheduler } from 'rxjs/testing';

/** A fresh TestScheduler per spec, comparing with jest's deep equality. */
export function newTestScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

/** How many of the logged subscriptions were open at `frame` (subscribed at or before it, not yet unsubscribed). */
export function openAt(logs: readonly SubscriptionLog[], frame: number): number {
  return logs.filter((log) => log.subscribedFrame <= frame && frame < log.unsubscribedFrame).length;
}
