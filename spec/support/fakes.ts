import { Observable, ReplaySubject, Subject, defer, merge, take, type Observable as Obs } from 'rxjs';
import { InvalidTicketError } from '../../src/core/errors';
import type {
  ConnectionDirection,
  PeerConnection,
  PeerStorage,
  SyncEngine,
  SyncEvent,
  Transport,
} from '../../src/core/ports';

/** A connection whose end the spec controls: `drop()` now, or a marble stream given as `ends$`. */
export class FakeConnection implements PeerConnection {
  readonly closeReasons: string[] = [];
  private readonly ended = new ReplaySubject<string>(1);
  readonly closed$: Obs<string>;

  constructor(
    readonly remoteNodeId: string,
    readonly direction: ConnectionDirection,
    options: { remoteInstanceId?: string; ends$?: Obs<string> } = {},
  ) {
    if (options.remoteInstanceId !== undefined) this.remoteInstanceId = options.remoteInstanceId;
    this.closed$ = (options.ends$ ? merge(this.ended, options.ends$) : this.ended.asObservable()).pipe(take(1));
  }

  readonly remoteInstanceId?: string;

  get closedByUs(): boolean {
    return this.closeReasons.length > 0;
  }

  close(reason: string): void {
    this.closeReasons.push(reason);
    this.ended.next(reason);
  }

  /** The remote end went away. */
  drop(reason = 'connection lost'): void {
    this.ended.next(reason);
  }
}

export const fakeTicket = (nodeId: string): string => `fake:${nodeId}`;

/** A Transport whose dials are whatever the spec says: cold marbles or hand-made observables. */
export class FakeTransport implements Transport {
  readonly incoming = new Subject<PeerConnection>();
  readonly incoming$ = this.incoming.asObservable();
  readonly dialled: string[] = [];

  constructor(
    readonly nodeId: string,
    public dialer: (nodeId: string, ticket: string) => Observable<PeerConnection> = () => new Observable(),
  ) {}

  generateTicket(): Promise<string> {
    return Promise.resolve(fakeTicket(this.nodeId));
  }

  parseTicket(ticket: string): { nodeId: string } {
    const match = /^fake:([a-z0-9]{1,64})$/.exec(ticket.trim());
    if (!match?.[1]) throw InvalidTicketError.malformed();
    return { nodeId: match[1] };
  }

  connect(ticket: string): Observable<PeerConnection> {
    return defer(() => {
      this.dialled.push(ticket);
      return this.dialer(this.parseTicket(ticket).nodeId, ticket);
    });
  }
}

/** A sync engine driven by the spec: by default it never emits (no sync), or it plays a given stream per connection. */
export class FakeSyncEngine implements SyncEngine {
  readonly started: PeerConnection[] = [];
  readonly aborted: PeerConnection[] = [];

  constructor(public run: (connection: PeerConnection) => Observable<SyncEvent> = () => new Observable()) {}

  syncWithPeer(connection: PeerConnection): Observable<SyncEvent> {
    return new Observable<SyncEvent>((subscriber) => {
      this.started.push(connection);
      let done = false;
      const inner = this.run(connection).subscribe({
        next: (event) => subscriber.next(event),
        error: (error: unknown) => {
          done = true;
          subscriber.error(error);
        },
        complete: () => {
          done = true;
          subscriber.complete();
        },
      });
      return () => {
        inner.unsubscribe();
        if (!done) this.aborted.push(connection);
      };
    });
  }
}

/** Storage in memory, with a JSON round trip so specs see what a file would hold. */
export class MemoryStorage implements PeerStorage {
  writes = 0;
  failNextSave: Error | null = null;
  loadError: Error | null = null;
  /** Delay each save by this many microtask-free milliseconds (real time) to expose interleaving. */
  saveDelayMs = 0;

  constructor(public text: string | null = null) {}

  static with(document: unknown): MemoryStorage {
    return new MemoryStorage(JSON.stringify(document));
  }

  get document(): Record<string, unknown> | null {
    return this.text === null ? null : (JSON.parse(this.text) as Record<string, unknown>);
  }

  async load(): Promise<unknown> {
    if (this.loadError) throw this.loadError;
    return this.text === null ? null : JSON.parse(this.text);
  }

  async save(document: Record<string, unknown>): Promise<void> {
    const failure = this.failNextSave;
    this.failNextSave = null;
    const text = JSON.stringify(document);
    if (this.saveDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.saveDelayMs));
    if (failure) throw failure;
    this.writes += 1;
    this.text = text;
  }
}
