import { DEFAULT_REDIAL, DropPacer, RedialPlan } from '../../../src/core/link/redial-schedule';

/** A plan whose clock the spec moves by hand. */
function plan(droppedAt: number | null, random = 1) {
  let now = droppedAt ?? 0;
  const redial = new RedialPlan(DEFAULT_REDIAL, () => random, droppedAt, () => now);
  return {
    redial,
    at: (t: number) => {
      now = t;
      return redial;
    },
  };
}

describe('RedialPlan', () => {
  it('after a stable drop, redials at once', () => {
    expect(plan(0).redial.firstDelay(0)).toBe(0);
  });

  it('after drops of a flapping peer, the first redial waits the backoff for the drops in a row', () => {
    const { redial } = plan(null);
    expect([1, 2, 3, 8].map((drops) => redial.firstDelay(drops))).toEqual([1_000, 2_000, 4_000, 60_000]);
  });

  it('in the quick phase, the first attempt may take 2 s, the later ones 3 s; each starts its slot (plus jitter) after the one before, however fast it fails', () => {
    const { at } = plan(0);
    expect(at(0).attemptStarted()).toBe(2_000);
    expect(at(2_000).delayAfterFailure()).toBe(500); // timed out: next at 2.5 s with full jitter (random = 1)
    expect(at(2_500).attemptStarted()).toBe(3_000);
    expect(at(5_500).delayAfterFailure()).toBe(500);
    expect(at(6_000).attemptStarted()).toBe(3_000);
    expect(at(6_020).delayAfterFailure()).toBe(2_980 + 500); // refused fast: still waits for its slot
  });

  it('a first attempt that fails fast still waits out its 2 s slot', () => {
    const { at } = plan(0, 0);
    at(0).attemptStarted();
    expect(at(30).delayAfterFailure()).toBe(1_970);
  });

  it('without jitter, quick attempts are exactly back to back', () => {
    const { at } = plan(0, 0);
    at(0).attemptStarted();
    at(2_000).delayAfterFailure();
    at(2_000).attemptStarted();
    expect(at(5_000).delayAfterFailure()).toBe(0);
  });

  it('ends the quick phase 90 s after the drop: then 10 s attempts and backoff from 1 s to 60 s', () => {
    const { at } = plan(1_000);
    expect(at(1_000).attemptStarted()).toBe(2_000);
    expect(at(90_999).attemptStarted()).toBe(3_000);
    expect(at(91_000).attemptStarted()).toBe(10_000);
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => at(91_000 + i * 100_000).delayAfterFailure());
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
  });

  it('after a command (no drop), uses the backoff from the start', () => {
    const { at } = plan(null);
    expect(at(0).attemptStarted()).toBe(10_000);
    expect(at(10_000).delayAfterFailure()).toBe(1_000);
    expect(at(21_000).delayAfterFailure()).toBe(2_000);
  });

  it('never gives an attempt longer than the configured timeout, quick or not', () => {
    const short = new RedialPlan({ ...DEFAULT_REDIAL, connectTimeoutMs: 1_500 }, () => 1, 0, () => 0);
    expect([short.attemptStarted(), short.attemptStarted()]).toEqual([1_500, 1_500]);
  });

  it('with quickPhaseMs 0 there is no quick phase', () => {
    const none = new RedialPlan({ ...DEFAULT_REDIAL, quickPhaseMs: 0 }, () => 1, 0, () => 0);
    expect(none.attemptStarted()).toBe(10_000);
  });
});

describe('DropPacer', () => {
  it('lets a handful through at once, then one every 250 ms, and forgets a burst once it is over', () => {
    const pacer = new DropPacer(4, 250);
    expect(Array.from({ length: 7 }, () => pacer.reserve(1_000))).toEqual([1_000, 1_000, 1_000, 1_000, 1_250, 1_500, 1_750]);
    expect(pacer.reserve(60_000)).toBe(60_000);
  });

  it('a lone drop always redials when it wants to', () => {
    const pacer = new DropPacer(4, 250);
    expect([0, 5_000, 5_001, 30_000].map((t) => pacer.reserve(t))).toEqual([0, 5_000, 5_001, 30_000]);
  });

  it('two bursts a few seconds apart are paced each from its own start', () => {
    const pacer = new DropPacer(2, 250);
    expect([0, 0, 0, 0].map((t) => pacer.reserve(t))).toEqual([0, 0, 250, 500]);
    expect([3_000, 3_000, 3_000].map((t) => pacer.reserve(t))).toEqual([3_000, 3_000, 3_250]);
  });
});
