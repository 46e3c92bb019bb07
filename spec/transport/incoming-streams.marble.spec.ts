import { IncomingStreams, type OfferedStream } from '../../src/transport/incoming-streams';
import { newTestScheduler } from '../support/marbles';

class FakeStream implements OfferedStream {
  declinedAt: number | null = null;
  constructor(
    readonly protocol: string,
    private readonly now: () => number,
  ) {}
  decline(): void {
    this.declinedAt = this.now();
  }
}

describe('IncomingStreams (virtual time)', () => {
  it('hands a stream to the subscriber of its protocol at once', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const registry = new IncomingStreams<FakeStream>({ maxHeld: 2, holdMs: 50 }, scheduler);
      const sync = new FakeStream('sync/1', () => scheduler.now());
      cold('5ms x').subscribe(() => registry.offer(sync));
      expectObservable(registry.streams('sync/1'), '^ 20ms !').toBe('5ms s', { s: sync });
    });
  });

  it('holds a stream that arrives before anyone asks, for the first subscriber within the hold time', () => {
    const scheduler = newTestScheduler();
    const early = new FakeStream('sync/1', () => scheduler.now());
    const got: [number, FakeStream][] = [];
    scheduler.run(() => {
      const registry = new IncomingStreams<FakeStream>({ maxHeld: 2, holdMs: 50 }, scheduler);
      registry.offer(early);
      scheduler.schedule(() => void registry.streams('sync/1').subscribe((s) => got.push([scheduler.now(), s])), 30);
    });
    expect(got).toEqual([[30, early]]);
    expect(early.declinedAt).toBeNull();
  });

  it('declines a held stream nobody asked for once the hold time is over (an unknown protocol)', () => {
    const scheduler = newTestScheduler();
    const stream = new FakeStream('nobody/1', () => scheduler.now());
    scheduler.run(({ expectObservable, cold }) => {
      const registry = new IncomingStreams<FakeStream>({ maxHeld: 2, holdMs: 50 }, scheduler);
      registry.offer(stream);
      expect(registry.heldCount).toBe(1);
      expectObservable(cold('60ms x'), '^ 60ms !').toBe('60ms x');
      scheduler.schedule(() => expect(registry.heldCount).toBe(0), 55);
    });
    expect(stream.declinedAt).toBe(50);
  });

  it('declines at once beyond the number it may hold', () => {
    const scheduler = newTestScheduler();
    const now = (): number => scheduler.now();
    const registry = new IncomingStreams<FakeStream>({ maxHeld: 2, holdMs: 50 }, scheduler);
    const streams = [new FakeStream('a', now), new FakeStream('b', now), new FakeStream('c', now)];
    streams.forEach((s) => registry.offer(s));
    expect(streams.map((s) => s.declinedAt)).toEqual([null, null, 0]);
  });

  it('a second subscriber of a protocol gets streams only after the first leaves', () => {
    const now = (): number => 0;
    const registry = new IncomingStreams<FakeStream>({ maxHeld: 2, holdMs: 50 });
    const first: FakeStream[] = [];
    const second: FakeStream[] = [];
    const a = registry.streams('p').subscribe((s) => first.push(s));
    registry.streams('p').subscribe((s) => second.push(s));
    const s1 = new FakeStream('p', now);
    registry.offer(s1);
    a.unsubscribe();
    const s2 = new FakeStream('p', now);
    registry.offer(s2);
    expect([first, second]).toEqual([[s1], [s2]]);
    registry.end();
  });

  it('ending completes the subscribers and declines held streams, leaving no timer', () => {
    const scheduler = newTestScheduler();
    const now = (): number => scheduler.now();
    scheduler.run(({ expectObservable }) => {
      const registry = new IncomingStreams<FakeStream>({ maxHeld: 2, holdMs: 50 }, scheduler);
      const held = new FakeStream('other', now);
      registry.offer(held);
      scheduler.schedule(() => registry.end(), 10);
      expectObservable(registry.streams('sync/1')).toBe('10ms |');
      scheduler.schedule(() => {
        expect(held.declinedAt).toBe(10);
        expect(registry.heldCount).toBe(0);
        // After the end, a new subscriber completes at once and a new stream is declined.
        const late = new FakeStream('sync/1', now);
        registry.offer(late);
        expect(late.declinedAt).toBe(20);
      }, 20);
    });
    expect(scheduler.actions.length).toBe(0);
  });
});
