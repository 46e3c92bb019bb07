import { NEVER, Observable, ReplaySubject, Subject, defer, merge, take, type Observable as Obs } from 'rxjs';
import { InvalidTicketError } from '../../src/core/errors';
import type {
  CloseKind,
  ConnectOptions,
  ConnectionDirection,
  FrameStream,
  PeerAddress,
  PeerConnection,
  PeerStorage,
  SyncEngine,
  SyncEvent,
  Transport,
  TransportRefusal,
} from '../../src/core/ports';

/** A connection whose end the spec controls: `drop()` now, or a marble stream given as `ends$`. */
export class FakeConnection implements PeerConnection {
  readonly closeReasons: string[] = [];
  readonly closeKinds: CloseKind[] = [];
  accepted = false;
  private readonly ended = new ReplaySubject<string>(1);
  readonly closed$: Obs<string>;

  constructor(
    readonly remoteNodeId: string,
    readonly direction: ConnectionDirection,
    options: { remoteInstanceId?: string; ends$?: Obs<string>; remoteName?: string; inviteSecret?: string; remoteTicket?: string } = {},
  ) {
    if (options.remoteInstanceId !== undefined) this.remoteInstanceId = options.remoteInstanceId;
    if (options.remoteName !== undefined) this.remoteName = options.remoteName;
    if (options.inviteSecret !== undefined) this.inviteSecret = options.inviteSecret;
    if (options.remoteTicket !== undefined) this.remoteTicket = options.remoteTicket;
    this.closed$ = (options.ends$ ? merge(this.ended, options.ends$) : this.ended.asObservable()).pipe(take(1));
  }

  readonly remoteInstanceId?: string;
  readonly remoteName?: string;
  readonly inviteSecret?: string;
  readonly remoteTicket?: string;

  accept(): void {
    this.accepted = true;
  }

  get closedByUs(): boolean {
    return this.closeReasons.length > 0;
  }

  close(reason: string, kind: CloseKind = 'normal'): void {
    this.closeReasons.push(reason);
    this.closeKinds.push(kind);
    this.ended.next(reason);
  }

  /** The remote end went away. */
  drop(reason = 'connection lost'): void {
    this.ended.next(reason);
  }

  /** This fake carries no streams; sync specs use a connected in-memory pair instead. */
  openStream(): Promise<FrameStream> {
    return Promise.reject(new Error('FakeConnection carries no streams'));
  }

  incomingStreams(): Obs<FrameStream> {
    return NEVER;
  }
}

export const fakeTicket = (nodeId: string): string => `fake:${nodeId}`;

/** A 32-hex secret from a short label, for invites in specs. */
export const fakeSecret = (label: string): string => Buffer.from(label.padEnd(16, '.').slice(0, 16)).toString('hex');

/** A Transport whose dials are whatever the spec says: cold marbles or hand-made observables. */
export class FakeTransport implements Transport {
  readonly incoming = new Subject<PeerConnection>();
  readonly incoming$ = this.incoming.asObservable();
  /** Nodes a real transport would have turned away at its gate. */
  readonly refused = new Subject<TransportRefusal>();
  readonly refused$ = this.refused.asObservable();
  readonly dialled: string[] = [];
  /** The invite secret each dial presented, in order (undefined for plain dials). */
  readonly presented: (string | undefined)[] = [];

  constructor(
    readonly nodeId: string,
    public dialer: (nodeId: string, ticket: string, options: ConnectOptions) => Observable<PeerConnection> = () => new Observable(),
  ) {}

  localAddress(): PeerAddress {
    return { nodeId: this.nodeId, addresses: ['127.0.0.1:4000'], relay: null };
  }

  ticketFor(address: PeerAddress): string {
    return fakeTicket(address.nodeId);
  }

  generateTicket(): Promise<string> {
    return Promise.resolve(fakeTicket(this.nodeId));
  }

  parseTicket(ticket: string): { nodeId: string } {
    const match = /^fake:([a-z0-9]{1,64})$/.exec(ticket.trim());
    if (!match?.[1]) throw InvalidTicketError.malformed();
    return { nodeId: match[1] };
  }

  connect(ticket: string, options: ConnectOptions = {}): Observable<PeerConnection> {
    return defer(() => {
      this.dialled.push(ticket);
      this.presented.push(options.inviteSecret);
      return this.dialer(this.parseTicket(ticket).nodeId, ticket, options);
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
