import { Subject, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type { FrameStream, PeerConnection } from '../core/ports';
import { errorMessage } from '../core/errors';
import { StagingFailed, fetchBlob } from './blob-transfer';
import type { Folder } from './folder';
import { SyncRefusal } from './refusal';
import { materialize } from './writer';

/**
 * Which attachment contents to fetch from which peer. One fetch per content
 * hash at a time, at most `perPeer` at once from one peer; a peer that said
 * it no longer has a version is not asked again until it announces it anew.
 * A fetch cut short (a dropped connection, a shutdown) leaves its chunks
 * staged and resumes on the next try.
 */

export interface BlobSource {
  readonly deviceId: string;
  readonly connection: PeerConnection;
  /** A transfer from this peer started: `bytes` are to come. */
  onStart(bytes: number): void;
  onBytes(bytes: number): void;
  /** The peer sent data that does not match its hash: end its session. */
  refuse(refusal: SyncRefusal): void;
}

export class BlobFetcher {
  private readonly sources = new Map<string, BlobSource>();
  private readonly inFlight = new Map<string, string>();
  private readonly gone = new Map<string, Set<string>>();
  /** How many times each content was refused as gone, for the delay before asking again. */
  private readonly goneCount = new Map<string, number>();
  private readonly timers = new Set<Subscription>();
  private readonly busy = new Map<string, number>();
  /** The streams of fetches in flight, and whose they are: reset when the fetcher stops or their peer detaches. */
  private readonly streams = new Map<FrameStream, BlobSource>();
  private readonly settled = new Subject<string>();
  /** Emits a peer's device id when one of its fetches ended. */
  readonly settled$: Observable<string> = this.settled.asObservable();
  private stopped = false;

  constructor(
    private readonly folder: Folder,
    private readonly scheduler: SchedulerLike,
    private readonly perPeer = 2,
  ) {}

  /** A peer can serve content now. Returns the function that detaches it. */
  attach(source: BlobSource): () => void {
    this.sources.set(source.deviceId, source);
    for (const devices of this.gone.values()) devices.delete(source.deviceId);
    this.kick();
    return () => {
      if (this.sources.get(source.deviceId) === source) this.sources.delete(source.deviceId);
      // Its fetches in flight end now (their chunks so far stay staged for the next time), not when the peer finishes sending.
      for (const [stream, owner] of this.streams) if (owner === source) this.cancel(stream);
    };
  }

  /** A peer's index says it has this content (again). */
  announce(hash: string, deviceId: string): void {
    this.gone.get(hash)?.delete(deviceId);
  }

  /** Fetches running from this peer. */
  busyWith(deviceId: string): number {
    return this.busy.get(deviceId) ?? 0;
  }

  /** Starts what can start. */
  kick(): void {
    if (this.stopped) return;
    for (const hash of [...this.folder.wanted.keys()]) {
      if (this.inFlight.has(hash) || this.folder.wanting(hash).length === 0) continue;
      const source = [...this.sources.values()].find((s) => this.busyWith(s.deviceId) < this.perPeer && !this.gone.get(hash)?.has(s.deviceId));
      if (source) void this.fetch(hash, source);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const stream of [...this.streams.keys()]) this.cancel(stream);
    for (const timer of this.timers) timer.unsubscribe();
    this.timers.clear();
    this.settled.complete();
  }

  /** Ends a fetch in flight: its stream is reset (its chunks so far stay staged) and no longer tracked. */
  private cancel(stream: FrameStream): void {
    this.streams.delete(stream);
    stream.reset();
  }

  /**
   * A peer said it no longer has this content (or does not have it yet: it may be placing it). It is not
   * asked again for a while, then it is, in case it has it by then.
   */
  private markGone(hash: string, deviceId: string): void {
    let devices = this.gone.get(hash);
    if (!devices) this.gone.set(hash, (devices = new Set()));
    devices.add(deviceId);
    const times = this.goneCount.get(hash) ?? 0;
    this.goneCount.set(hash, times + 1);
    const timer = this.scheduler.schedule(() => {
      this.timers.delete(timer);
      this.gone.get(hash)?.delete(deviceId);
      this.kick();
    }, goneDelay(times));
    this.timers.add(timer);
  }

  private async fetch(hash: string, source: BlobSource): Promise<void> {
    this.inFlight.set(hash, source.deviceId);
    this.folder.fetching.add(hash);
    this.busy.set(source.deviceId, this.busyWith(source.deviceId) + 1);
    const record = this.folder.wanting(hash)[0];
    let stream: FrameStream | null = null;
    try {
      const progress = {
        onStart: (bytes: number) => source.onStart(bytes),
        onBytes: (bytes: number) => source.onBytes(bytes),
        onStream: (opened: FrameStream) => {
          stream = opened;
          // Stopped, or the peer detached, while the stream was being opened.
          if (this.stopped || this.sources.get(source.deviceId) !== source) opened.reset();
          else this.streams.set(opened, source);
        },
      };
      const outcome = await fetchBlob(this.folder, source.connection, hash, record?.path ?? hash, record?.size ?? 0, progress);
      if (outcome === 'gone') {
        this.markGone(hash, source.deviceId);
      } else if (!this.stopped) {
        this.folder.fetching.delete(hash);
        const ids = this.folder.wanting(hash).map((r) => r.id);
        // The content is here now (staged): if placing it fails, that is the writer's to retry, not a reason to fetch again.
        this.folder.wanted.delete(hash);
        // Placed where it is wanted; if nothing wants it any more, the writer's clean-up discards it.
        await this.folder.run(() => materialize(this.folder, ids));
      }
    } catch (error) {
      // A fetch this fetcher cancelled (its stream is no longer tracked) ends quietly: that is no problem to report.
      const cancelled = stream !== null && !this.streams.has(stream);
      if (error instanceof SyncRefusal) source.refuse(error);
      else if (error instanceof StagingFailed) {
        // This device's disk (full, say): shown, and asked again after a while rather than at once. Told apart
        // by its type, not its words: its sentence says "nothing was lost", which reads like a dropped connection.
        if (!this.stopped) this.folder.emit({ type: 'error', message: errorMessage(error) });
        this.markGone(hash, source.deviceId);
      } else if (!this.stopped && !cancelled && !isConnectionEnd(error)) this.folder.emit({ type: 'error', message: errorMessage(error) });
    } finally {
      if (stream) this.streams.delete(stream);
      this.folder.fetching.delete(hash);
      this.inFlight.delete(hash);
      this.busy.set(source.deviceId, this.busyWith(source.deviceId) - 1);
      if (!this.stopped) {
        this.settled.next(source.deviceId);
        this.kick();
      }
    }
  }
}

/** Delays before asking a peer again for content it said it no longer had: 1 s doubling to 1 min. */
export function goneDelay(times: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.min(times, 6));
}

function isConnectionEnd(error: unknown): boolean {
  return /reset|ended|closed|lost/iu.test(errorMessage(error));
}
