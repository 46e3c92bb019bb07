import { config } from 'rxjs';
import { Store } from '../../src/core/store';
import { newTestScheduler } from '../support/marbles';

interface Counts {
  readonly a: number;
  readonly b: number;
}

describe('Store', () => {
  const noErrors = (error: unknown): never => {
    throw error;
  };

  it('emits each new snapshot to every subscriber, in order, even when a subscriber updates', () => {
    const store = new Store<Counts>({ a: 0, b: 0 }, noErrors);
    const seenByFirst: number[] = [];
    const seenBySecond: number[] = [];
    store.state$.subscribe((state) => {
      seenByFirst.push(state.a);
      // Reacting to 1 by moving on to 2, from inside a subscriber.
      if (state.a === 1) store.update((s) => ({ ...s, a: 2 }));
    });
    store.state$.subscribe((state) => seenBySecond.push(state.a));
    store.update((s) => ({ ...s, a: 1 }));
    expect(seenByFirst).toEqual([0, 1, 2]);
    expect(seenBySecond).toEqual([0, 1, 2]);
    expect(store.snapshot.a).toBe(2);
  });

  it('emits nothing when an updater returns the same object', () => {
    const store = new Store<Counts>({ a: 0, b: 0 }, noErrors);
    const seen: Counts[] = [];
    store.state$.subscribe((state) => seen.push(state));
    store.update((s) => s);
    expect(seen).toHaveLength(1);
  });

  it('reports an updater that throws, keeps the previous state and goes on', () => {
    const errors: unknown[] = [];
    const store = new Store<Counts>({ a: 0, b: 0 }, (error) => errors.push(error));
    store.update(() => {
      throw new Error('bad updater');
    });
    store.update((s) => ({ ...s, a: 5 }));
    expect(errors).toEqual([new Error('bad updater')]);
    expect(store.snapshot).toEqual({ a: 5, b: 0 });
  });

  it('survives a subscriber that throws: other subscribers and later updates still work', async () => {
    const unhandled: unknown[] = [];
    const previous = config.onUnhandledError;
    config.onUnhandledError = (error) => unhandled.push(error);
    try {
      const store = new Store<Counts>({ a: 0, b: 0 }, noErrors);
      const seen: number[] = [];
      store.state$.subscribe((state) => {
        if (state.a === 1) throw new Error('bad subscriber');
      });
      store.state$.subscribe((state) => seen.push(state.a));
      store.update((s) => ({ ...s, a: 1 }));
      store.update((s) => ({ ...s, a: 2 }));
      expect(seen).toEqual([0, 1, 2]);
      // rxjs reports a subscriber's error on a later tick, never into the store.
      await new Promise((resolve) => setTimeout(resolve, 0));
      store.update((s) => ({ ...s, a: 3 }));
      expect(seen).toEqual([0, 1, 2, 3]);
    } finally {
      config.onUnhandledError = previous;
    }
    expect(unhandled).toEqual([new Error('bad subscriber')]);
  });

  it('select wakes a subscriber only when its slice changes (marbles)', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const store = new Store<Counts>({ a: 0, b: 0 }, noErrors);
      cold('-x-y-z').subscribe((step) => {
        if (step === 'x') store.update((s) => ({ ...s, b: 1 }));
        if (step === 'y') store.update((s) => ({ ...s, a: 1 }));
        if (step === 'z') store.update((s) => ({ ...s, b: 2 }));
      });
      expectObservable(store.select((s) => s.a)).toBe('0--1', { 0: 0, 1: 1 });
      expectObservable(store.select((s) => s.b)).toBe('01---2', { 0: 0, 1: 1, 2: 2 });
    });
  });

  it('destroy completes every subscriber and ignores later updates', () => {
    const store = new Store<Counts>({ a: 0, b: 0 }, noErrors);
    let completed = 0;
    store.state$.subscribe({ complete: () => (completed += 1) });
    store.select((s) => s.a).subscribe({ complete: () => (completed += 1) });
    store.destroy();
    store.update((s) => ({ ...s, a: 9 }));
    expect(completed).toBe(2);
    expect(store.snapshot.a).toBe(0);
    let late = false;
    store.state$.subscribe({ complete: () => (late = true) });
    expect(late).toBe(true);
  });
});
