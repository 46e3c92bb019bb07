/**
 * Who gets a TLS handshake. Every completed handshake with a new node id
 * leaves per-node state in iroh's native layer (about 15-30 KB, kept at
 * least a minute, and the memory stays with the process afterwards), and the
 * node id is known only once the handshake is done. So strangers are limited
 * before it, by the source address iroh reports for an incoming connection:
 * a few handshakes per source, and a budget for all unknown sources
 * together, refilled over time. A source that led to an accepted connection,
 * or that this device dialled, is trusted from then on and never limited.
 */
import { type Observable, type SchedulerLike, asyncScheduler, buffer, connect, exhaustMap, filter, map, merge, mergeMap, skip, take, timer, toArray, window } from 'rxjs';

export interface AdmissionLimits {
  /** Handshakes one source (an IPv4 address, an IPv6 /64) may start before it must wait. */
  readonly perSourceBurst: number;
  /** One more handshake per source every this long. */
  readonly perSourceRefillMs: number;
  /** Handshakes all untrusted sources together may start before they must wait. */
  readonly strangerBurst: number;
  readonly strangerRefillMs: number;
}

/** Where an incoming connection says it comes from, before its handshake. */
export type IncomingSource = { readonly kind: 'ip'; readonly address: string } | { readonly kind: 'relay'; readonly nodeId: string } | { readonly kind: 'unknown' };

class Bucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly burst: number,
    private readonly refillMs: number,
    now: number,
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  available(now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + (now - this.updatedAt) / this.refillMs);
    this.updatedAt = now;
    return this.tokens;
  }

  take(now: number): void {
    this.tokens = this.available(now) - 1;
  }

  giveBack(now: number): void {
    this.tokens = Math.min(this.burst, this.available(now) + 1);
  }

  full(now: number): boolean {
    return this.available(now) >= this.burst;
  }
}

const MAX_TRUSTED = 1_024;
const PRUNE_ABOVE = 1_024;

export class Admission {
  private readonly perSource = new Map<string, Bucket>();
  private readonly strangers: Bucket;
  private readonly trusted = new Set<string>();

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly now: () => number,
  ) {
    this.strangers = new Bucket(limits.strangerBurst, limits.strangerRefillMs, now());
  }

  /** Before the handshake: true lets it go ahead (and charges the budgets), false turns it away unseen. */
  admit(source: IncomingSource): boolean {
    if (this.isTrusted(source)) return true;
    const now = this.now();
    if (this.strangers.available(now) < 1) return false;
    const key = bucketKey(source);
    let bucket = this.perSource.get(key);
    if (!bucket) {
      this.prune(now);
      bucket = new Bucket(this.limits.perSourceBurst, this.limits.perSourceRefillMs, now);
      this.perSource.set(key, bucket);
    }
    if (bucket.available(now) < 1) return false;
    bucket.take(now);
    this.strangers.take(now);
    return true;
  }

  /** The handshake from `source` led to an accepted connection: refund it, and trust the source from now on. */
  accepted(source: IncomingSource): void {
    if (this.isTrusted(source)) return;
    const now = this.now();
    this.strangers.giveBack(now);
    this.perSource.get(bucketKey(source))?.giveBack(now);
    this.trust(source);
  }

  /** A source this device knows (it dialled that address): never limited. */
  trust(source: IncomingSource): void {
    const key = trustKey(source);
    if (key === null || this.trusted.has(key)) return;
    if (this.trusted.size >= MAX_TRUSTED) this.trusted.delete(this.trusted.values().next().value!);
    this.trusted.add(key);
  }

  /** Per-source budgets kept now, for leak checks. */
  get trackedSources(): number {
    return this.perSource.size;
  }

  private isTrusted(source: IncomingSource): boolean {
    const key = trustKey(source);
    return key !== null && this.trusted.has(key);
  }

  /** Sources whose budget has refilled cost nothing to forget. */
  private prune(now: number): void {
    if (this.perSource.size < PRUNE_ABOVE) return;
    for (const [key, bucket] of this.perSource) if (bucket.full(now)) this.perSource.delete(key);
  }
}

/** An exact address (ip:port, which a device also dials from) or a node id announced by a relay. */
function trustKey(source: IncomingSource): string | null {
  if (source.kind === 'ip') return source.address.toLowerCase();
  if (source.kind === 'relay') return `relay:${source.nodeId}`;
  return null;
}

/** Sources that one party controls together: an IPv4 address, an IPv6 /64. */
export function bucketKey(source: IncomingSource): string {
  if (source.kind === 'relay') return `relay:${source.nodeId}`;
  if (source.kind === 'unknown') return 'unknown';
  const v6 = /^\[([0-9a-fA-F:]+)(?:%[^\]]*)?\]:\d+$/.exec(source.address);
  if (!v6) return source.address.replace(/:\d+$/, '');
  return `${expandIpv6(v6[1]!).slice(0, 4).join(':')}::/64`;
}

function expandIpv6(address: string): string[] {
  const [head = '', tail] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array.from({ length: Math.max(0, 8 - left.length - right.length) }, () => '0');
  return [...left, ...fill, ...right].map((group) => group.replace(/^0+(?=.)/, ''));
}

/* ---- what a host is told about refusals ---- */

/** One device turned away: after its handshake (`nodeId` known) or before it (`nodeId` null). */
export interface Refusal {
  readonly nodeId: string | null;
  readonly reason: string;
}

/** Refusals gathered over a window, for one line such as "12 unknown devices refused in the last minute". */
export interface RefusalSummary {
  /** Refusals in the window. */
  readonly refused: number;
  /** Distinct node ids among them (those refused after their handshake). */
  readonly devices: number;
  /** Connections turned away before their handshake, so of unknown identity. */
  readonly unseen: number;
  readonly windowMs: number;
}

/**
 * Gathers refusals into one summary per window. A window opens with the first
 * refusal and closes `windowMs` later; no refusals, no timer and no summary.
 */
export function summarizeRefusals(windowMs: number, scheduler: SchedulerLike = asyncScheduler) {
  return (refusals$: Observable<Refusal>): Observable<RefusalSummary> =>
    refusals$.pipe(
      connect((shared) => shared.pipe(buffer(shared.pipe(exhaustMap(() => timer(windowMs, scheduler)))))),
      filter((batch) => batch.length > 0),
      map((batch) => ({
        refused: batch.length,
        devices: new Set(batch.flatMap((r) => (r.nodeId === null ? [] : [r.nodeId]))).size,
        unseen: batch.filter((r) => r.nodeId === null).length,
        windowMs,
      })),
    );
}

/** What a host prints about refusals: the first few one by one, the rest as one line per window. */
export type RefusalReport =
  | { readonly type: 'refused'; readonly refusal: Refusal }
  /** Refusals of a window beyond the first `shown` ones, counted. */
  | ({ readonly type: 'more'; readonly shown: number } & RefusalSummary);

/**
 * The first `shown` refusals of each window as they happen (a person sees at
 * once that a device was turned away), and the rest gathered into one report
 * when the window closes, so that a flood of strangers costs a few lines a
 * minute instead of one each. A window opens with a refusal and closes
 * `windowMs` later.
 */
export function reportRefusals(windowMs: number, shown: number, scheduler: SchedulerLike = asyncScheduler) {
  return (refusals$: Observable<Refusal>): Observable<RefusalReport> =>
    refusals$.pipe(
      connect((shared) => shared.pipe(window(shared.pipe(exhaustMap(() => timer(windowMs, scheduler)))))),
      mergeMap((window$) =>
        window$.pipe(
          connect((refusals) =>
            merge(
              refusals.pipe(
                take(shown),
                map((refusal): RefusalReport => ({ type: 'refused', refusal })),
              ),
              refusals.pipe(
                skip(shown),
                toArray(),
                filter((rest) => rest.length > 0),
                map(
                  (rest): RefusalReport => ({
                    type: 'more',
                    shown,
                    refused: shown + rest.length,
                    devices: new Set(rest.flatMap((r) => (r.nodeId === null ? [] : [r.nodeId]))).size,
                    unseen: rest.filter((r) => r.nodeId === null).length,
                    windowMs,
                  }),
                ),
              ),
            ),
          ),
        ),
      ),
    );
}
