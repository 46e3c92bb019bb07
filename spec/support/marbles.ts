import { TestScheduler } from 'rxjs/testing';

/** A fresh TestScheduler per spec, comparing with jest's deep equality. */
export function newTestScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}
