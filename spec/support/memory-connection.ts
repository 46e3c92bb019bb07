import { Observable, ReplaySubject, take } from 'rxjs';
import {
  MAX_STREAM_FRAME_BYTES,
  type CloseKind,
  type ConnectionDirection,
  type FrameStream,
  type PeerConnection,
} from '../../src/core/ports';

/**
 * Two connected PeerConnections in one process, honouring the port's
 * contract: framed, ordered streams per sub-protocol, pull reads, writes that
 * wait while the receiver's window is full (back-pressure), the frame limit,
 * incoming streams held for a late subscriber, and a close that ends every
 * stream. It counts the bytes that cross it (each frame plus a 4-byte length
 * prefix, each stream's protocol tag) so specs can assert what went on the
 * wire.
 */

export interface WireCounter {
  bytes: number;
  frames: number;
}

export interface MemoryLinkOptions {
  /** Bytes a receiver buffers before writers wait (default 256 KiB). */
  readonly windowBytes?: number;
  /** Delay before each frame can be read, in ms of real time (default 0). */
  readonly latencyMs?: number;
  /** Sees every frame as it is written: which side wrote it and on which sub-protocol. */
  readonly tap?: (from: 'a' | 'b', protocol: string, frame: Uint8Array) => void;
}

export interface MemoryLink {
  /** The dialling side: its remote is `b`'s device. */
  readonly a: MemoryConnection;
  readonly b: MemoryConnection;
  /** Bytes written by a (towards b) and by b. */
  readonly sent: { readonly a: WireCounter; readonly b: WireCounter };
  /** The network fails: both sides see the connection end with `reason`. */
  cut(reason?: string): void;
  readonly totalBytes: number;
}

export function memoryLink(aNodeId: string, bNodeId: string, options: MemoryLinkOptions = {}): MemoryLink {
  const sent = { a: { bytes: 0, frames: 0 }, b: { bytes: 0, frames: 0 } };
  const a = new MemoryConnection(bNodeId, 'outgoing', sent.a, options, 'a');
  const b = new MemoryConnection(aNodeId, 'incoming', sent.b, options, 'b');
  a.peer = b;
  b.peer = a;
  return {
    a,
    b,
    sent,
    cut: (reason = 'connection lost') => {
      a.end(reason);
      b.end(reason);
    },
    get totalBytes() {
      return sent.a.bytes + sent.b.bytes;
    },
  };
}

export class MemoryConnection implements PeerConnection {
  peer!: MemoryConnection;
  readonly closeReasons: string[] = [];
  readonly closeKinds: CloseKind[] = [];
  private readonly ended = new ReplaySubject<string>(1);
  readonly closed$ = this.ended.pipe(take(1));
  private isClosed = false;
  private readonly streams = new Set<MemoryStream>();
  private readonly held = new Map<string, MemoryStream[]>();
  private readonly listeners = new Map<string, Set<(stream: MemoryStream) => void>>();
  private readonly completers = new Set<() => void>();

  constructor(
    readonly remoteNodeId: string,
    readonly direction: ConnectionDirection,
    private readonly counter: WireCounter,
    private readonly options: MemoryLinkOptions,
    private readonly side: 'a' | 'b',
  ) {}

  get closed(): boolean {
    return this.isClosed;
  }

  close(reason: string, kind: CloseKind = 'normal'): void {
    if (this.isClosed) return;
    this.closeReasons.push(reason);
    this.closeKinds.push(kind);
    this.end(reason);
    this.peer.end(reason);
  }

  end(reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const stream of this.streams) stream.reset();
    for (const held of this.held.values()) for (const stream of held) stream.reset();
    this.held.clear();
    for (const complete of this.completers) complete();
    this.ended.next(reason);
  }

  openStream(protocol: string): Promise<FrameStream> {
    if (this.isClosed || this.peer.isClosed) return Promise.reject(new Error('The connection has ended.'));
    const window = this.options.windowBytes ?? 256 * 1024;
    const latency = this.options.latencyMs ?? 0;
    const tap = this.options.tap;
    const out = new Pipe(window, latency, this.counter, tap ? (frame) => tap(this.side, protocol, frame) : null);
    const back = new Pipe(window, latency, this.peer.counter, tap ? (frame) => tap(this.peer.side, protocol, frame) : null);
    this.counter.bytes += protocol.length + 4;
    const mine = new MemoryStream(back, out);
    const theirs = new MemoryStream(out, back);
    mine.partner = theirs;
    theirs.partner = mine;
    this.track(mine);
    this.peer.track(theirs);
    this.peer.deliver(protocol, theirs);
    return Promise.resolve(mine);
  }

  incomingStreams(protocol: string): Observable<FrameStream> {
    return new Observable<FrameStream>((subscriber) => {
      if (this.isClosed) {
        subscriber.complete();
        return undefined;
      }
      const listener = (stream: MemoryStream): void => subscriber.next(stream);
      const complete = (): void => subscriber.complete();
      let set = this.listeners.get(protocol);
      if (!set) this.listeners.set(protocol, (set = new Set()));
      set.add(listener);
      this.completers.add(complete);
      const held = this.held.get(protocol) ?? [];
      this.held.delete(protocol);
      for (const stream of held) listener(stream);
      return () => {
        set.delete(listener);
        this.completers.delete(complete);
      };
    });
  }

  /** Streams still open on this side. */
  get openStreams(): number {
    return [...this.streams].filter((s) => !s.isReset).length;
  }

  private track(stream: MemoryStream): void {
    this.streams.add(stream);
    stream.onReset = () => this.streams.delete(stream);
  }

  private deliver(protocol: string, stream: MemoryStream): void {
    const first = [...(this.listeners.get(protocol) ?? [])][0];
    if (first) {
      first(stream);
      return;
    }
    const held = this.held.get(protocol) ?? [];
    if (held.length >= 8) {
      stream.reset();
      return;
    }
    held.push(stream);
    this.held.set(protocol, held);
  }
}

class MemoryStream implements FrameStream {
  partner!: MemoryStream;
  onReset: () => void = () => undefined;
  isReset = false;

  constructor(
    private readonly inbound: Pipe,
    private readonly outbound: Pipe,
  ) {}

  read(): Promise<Uint8Array | null> {
    return this.inbound.read();
  }

  write(frame: Uint8Array): Promise<void> {
    return this.outbound.write(frame);
  }

  finish(): Promise<void> {
    this.outbound.finish();
    return Promise.resolve();
  }

  reset(): void {
    if (this.isReset) return;
    this.isReset = true;
    const error = new Error('The stream was reset.');
    this.inbound.fail(error);
    this.outbound.fail(error);
    this.onReset();
    this.partner.reset();
  }
}

/** One direction of a stream: a bounded queue of frames. */
class Pipe {
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private finished = false;
  private error: Error | null = null;
  private reader: { resolve: (frame: Uint8Array | null) => void; reject: (error: Error) => void } | null = null;
  private readonly writers: { frame: Uint8Array; resolve: () => void; reject: (error: Error) => void }[] = [];
  private inFlight = 0;

  constructor(
    private readonly window: number,
    private readonly latencyMs: number,
    private readonly counter: WireCounter,
    private readonly tap: ((frame: Uint8Array) => void) | null,
  ) {}

  write(frame: Uint8Array): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (this.finished) return Promise.reject(new Error('write after finish'));
    if (frame.length > MAX_STREAM_FRAME_BYTES) return Promise.reject(new Error(`frame of ${frame.length} bytes is over the limit`));
    const copy = frame.slice();
    return new Promise<void>((resolve, reject) => {
      this.writers.push({ frame: copy, resolve, reject });
      this.admit();
    });
  }

  read(): Promise<Uint8Array | null> {
    if (this.queue.length > 0) {
      const frame = this.queue.shift()!;
      this.queued -= frame.length;
      this.admit();
      return Promise.resolve(frame);
    }
    if (this.error) return Promise.reject(this.error);
    if (this.finished && this.inFlight === 0 && this.writers.length === 0) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.reader = { resolve, reject };
    });
  }

  finish(): void {
    this.finished = true;
    this.wakeReaderIfDone();
  }

  fail(error: Error): void {
    if (this.error) return;
    this.error = error;
    for (const writer of this.writers.splice(0)) writer.reject(error);
    const reader = this.reader;
    this.reader = null;
    reader?.reject(error);
  }

  private admit(): void {
    while (this.writers.length > 0 && (this.queued + this.inFlight === 0 || this.queued + this.inFlight + this.writers[0]!.frame.length <= this.window)) {
      const { frame, resolve } = this.writers.shift()!;
      this.counter.bytes += frame.length + 4;
      this.counter.frames += 1;
      this.tap?.(frame);
      resolve();
      if (this.latencyMs > 0) {
        this.inFlight += frame.length;
        setTimeout(() => {
          this.inFlight -= frame.length;
          this.arrive(frame);
          this.admit();
        }, this.latencyMs);
      } else {
        this.arrive(frame);
      }
    }
  }

  private arrive(frame: Uint8Array): void {
    if (this.error) return;
    const reader = this.reader;
    if (reader) {
      this.reader = null;
      reader.resolve(frame);
      return;
    }
    this.queue.push(frame);
    this.queued += frame.length;
    this.wakeReaderIfDone();
  }

  private wakeReaderIfDone(): void {
    if (this.reader && this.finished && this.queue.length === 0 && this.inFlight === 0 && this.writers.length === 0) {
      const reader = this.reader;
      this.reader = null;
      reader.resolve(null);
    }
  }
}
