import { fullJitterDelay, type BackoffConfig } from './backoff';

/**
 * When a peer is redialled, and how long each attempt may take.
 *
 * After a stable connection drops (it lived `stableAfterMs` or more):
 * 1. The first redial starts at once: a single peer that restarts or loses its
 *    network for a moment is back as soon as it answers. When many peers drop
 *    together (more than `burstSize` in a short time: this device lost its
 *    network, or woke from sleep), first redials are paced one every
 *    `burstIntervalMs` instead, so 100 drops do not become 100 dials at once.
 * 2. For `quickPhaseMs` after the drop, an attempt starts every
 *    `quickAttemptMs` (plus up to `quickJitterMs`) and may take that long.
 *    A silent outage (packets dropped, no interface change, so no
 *    network-change trigger) of up to a minute is then over, from the
 *    attempts' point of view, at most quickAttemptMs + quickJitterMs (3.5 s)
 *    before an attempt starts, 1.75 s on average; and both devices dial. An
 *    attempt never waits out a 10 s timeout meanwhile. The cost is one
 *    handshake every 3 s per dropped peer for 90 s; on the wire about 4
 *    packets (4.7 KB) a second, as iroh goes on resending a handshake whose
 *    attempt timed out (the binding cannot abort a connect) until its own
 *    timeout, and closes it if it completes after all.
 *    Only the first attempt gets a shorter slot, `quickFirstAttemptMs`
 *    (2 s), so the second starts 2 to 2.5 s after the drop: an unanswered
 *    QUIC handshake sends at once, again after about 1 s and then not before
 *    3 s, and a peer that merely restarts (down 2 s, up again a moment
 *    later) usually comes back in that gap. Its restart is then noticed
 *    1 s sooner, for at most one more attempt over the quick phase.
 * 3. After that, the usual exponential backoff with full jitter (base 1 s,
 *    doubling to 60 s) and `connectTimeoutMs` per attempt: a device that is
 *    off for the night costs one attempt a minute.
 *
 * A connection that drops sooner (the peer flaps: it crashes or closes right
 * after connecting) gets no quick phase: its first redial waits the backoff for
 * the number of such drops in a row, so a flapping peer cannot make this
 * device dial in a tight loop.
 *
 * Redialling that a command started (start-up, "connect") uses step 3 from
 * the start: nothing says the peer was reachable a moment ago.
 */
export interface RedialOptions {
  /** How long one attempt may take outside the quick phase. iroh's own limit is 30 s. */
  readonly connectTimeoutMs: number;
  /** In the quick phase, the time from one attempt's start to the next one's, and each attempt's timeout. */
  readonly quickAttemptMs: number;
  /** The same for the first attempt after a drop (see 2. above). */
  readonly quickFirstAttemptMs: number;
  /** Up to this much more between quick attempts, at random, so peers that dropped together drift apart. */
  readonly quickJitterMs: number;
  /** How long after a stable connection dropped its redials stay quick. 0 turns quick redials off. */
  readonly quickPhaseMs: number;
  /** A connection that drops sooner than this after opening counts as unstable. */
  readonly stableAfterMs: number;
  readonly backoff: Omit<BackoffConfig, 'random'>;
  /** Drops redialled at once before pacing starts (the dial slots a burst may take without waiting). */
  readonly burstSize: number;
  /** The pace of first redials during a burst of drops. */
  readonly burstIntervalMs: number;
}

export const DEFAULT_REDIAL: RedialOptions = {
  connectTimeoutMs: 10_000,
  quickAttemptMs: 3_000,
  quickFirstAttemptMs: 2_000,
  quickJitterMs: 500,
  quickPhaseMs: 90_000,
  stableAfterMs: 10_000,
  backoff: { baseMs: 1_000, capMs: 60_000 },
  burstSize: 4,
  burstIntervalMs: 250,
};

/** The waits and timeouts of one redial episode (from a drop or a command until connected). */
export class RedialPlan {
  private slowFailures = 0;
  private attemptStartedAt = 0;
  /** The quick slot of the attempt under way: its timeout, and when the next one may start. */
  private quickSlotMs = 0;
  private quickAttempts = 0;

  constructor(
    private readonly options: RedialOptions,
    private readonly random: () => number,
    /** When the stable connection this episode follows dropped, or null after a command. */
    private readonly droppedAt: number | null,
    private readonly now: () => number,
  ) {}

  /** The wait before the first attempt after a drop, given the unstable drops in a row (0 after a stable one). */
  firstDelay(unstableDrops: number): number {
    return unstableDrops > 0 ? fullJitterDelay(unstableDrops, this.backoff()) : 0;
  }

  /** An attempt starts now: how long it may take. */
  attemptStarted(): number {
    this.attemptStartedAt = this.now();
    if (!this.quick()) return this.options.connectTimeoutMs;
    this.quickSlotMs = this.quickAttempts === 0 ? this.options.quickFirstAttemptMs : this.options.quickAttemptMs;
    this.quickAttempts += 1;
    return Math.min(this.quickSlotMs, this.options.connectTimeoutMs);
  }

  /** The attempt failed now: how long until the next one. */
  delayAfterFailure(): number {
    if (this.quick()) {
      const jitter = Math.round(clamp(this.random()) * this.options.quickJitterMs);
      return Math.max(0, this.attemptStartedAt + this.quickSlotMs - this.now()) + jitter;
    }
    this.slowFailures += 1;
    return fullJitterDelay(this.slowFailures, this.backoff());
  }

  private quick(): boolean {
    return this.droppedAt !== null && this.now() - this.droppedAt < this.options.quickPhaseMs;
  }

  private backoff(): BackoffConfig {
    return { ...this.options.backoff, random: this.random };
  }
}

function clamp(r: number): number {
  return Math.min(Math.max(r, 0), 1);
}

/**
 * Paces first redials after drops, across all peers: `burstSize` may start
 * at once, then one every `intervalMs` (a token bucket, kept as the time its
 * next slot frees up). A lone drop always finds a slot free.
 */
export class DropPacer {
  private nextFreeAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly burstSize: number,
    private readonly intervalMs: number,
  ) {}

  /** Books a slot for a redial that wants to start at `at` (now: times never go back): returns when it may start. */
  reserve(at: number): number {
    const start = Math.max(at, this.nextFreeAt - (this.burstSize - 1) * this.intervalMs);
    this.nextFreeAt = Math.max(this.nextFreeAt, at) + this.intervalMs;
    return start;
  }
}
