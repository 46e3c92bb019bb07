import {
  NEVER,
  Subject,
  Subscription,
  asyncScheduler,
  defer,
  distinctUntilChanged,
  filter,
  firstValueFrom,
  map,
  shareReplay,
  take,
  takeWhile,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import { ConcurrencyLimiter, DEFAULT_BACKOFF, attemptTimeout, type BackoffConfig } from './backoff';
import {
  InvalidPeerUpdateError,
  InvalidTicketError,
  ManagerDestroyedError,
  UnknownPeerError,
  VaultPeersError,
  errorMessage,
} from './errors';
import { MAX_NAME_LENGTH, type Peer, type PeerState, type PeerUpdate } from './model';
import { PeerLink, REASON_REMOVED, type LinkContext } from './peer-link';
import {
  EMPTY_PEER_STATES,
  withLinkChanged,
  withPeerAdded,
  withPeerChanged,
  withPeerRemoved,
  type PeerStates,
} from './peer-states';
import { PeerRepository } from './persistence';
import type {
  PeerConnection,
  PeerStorage,
  SyncEngine,
  SyncEvent,
  Transport,
  UnknownPeerDecision,
  UnknownPeerPolicy,
} from './ports';
import { Store } from './store';

export interface PeerManagerOptions {
  readonly transport: Transport;
  readonly syncEngine: SyncEngine;
  readonly storage: PeerStorage;
  /** Every timer runs on it; specs pass a TestScheduler. */
  readonly scheduler?: SchedulerLike;
  /** Numbers in [0, 1] for backoff jitter. */
  readonly random?: () => number;
  readonly backoff?: Partial<Pick<BackoffConfig, 'baseMs' | 'capMs'>>;
  /** How long one dial may take before it counts as failed. iroh's own limit is 30 s. */
  readonly connectTimeoutMs?: number;
  /** Dials running at once; the rest wait their turn. */
  readonly maxConcurrentDials?: number;
  /** Each emission ends every pending backoff wait (network back, app resumed). */
  readonly redialTriggers$?: Observable<unknown>;
  /** Decides about connections from nodes we do not know. Default: refuse. */
  readonly unknownPeerPolicy?: UnknownPeerPolicy;
}

export type PeerManagerEvent =
  | { readonly type: 'refused'; readonly nodeId: string; readonly reason: string }
  | { readonly type: 'sync'; readonly nodeId: string; readonly event: SyncEvent }
  /** Something went wrong in the background (a failed save, a throwing callback). */
  | { readonly type: 'problem'; readonly message: string; readonly error?: unknown };

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_CONCURRENT_DIALS = 4;
export const REASON_UNKNOWN_DEVICE = 'This device is not paired with the one it tried to reach.';

export const refuseUnknownPeers = (): UnknownPeerDecision => ({ action: 'refuse', reason: REASON_UNKNOWN_DEVICE });

function normalizeName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw new InvalidPeerUpdateError('A device name cannot be empty.');
  if (trimmed.length > MAX_NAME_LENGTH) {
    throw new InvalidPeerUpdateError(`A device name can be at most ${MAX_NAME_LENGTH} characters long.`);
  }
  return trimmed;
}

function defaultName(nodeId: string): string {
  return `Device ${nodeId.slice(0, 8)}`;
}

function samePeers(a: readonly Peer[], b: readonly Peer[]): boolean {
  return a.length === b.length && a.every((peer, i) => peer === b[i]);
}

/**
 * The spec's PeerManager: known peers, their live state, and one reconnection
 * pipeline per peer, over a Transport, a SyncEngine and a storage port.
 */
export class PeerManager {
  /** Every peer's state, re-emitted when any of them changes. */
  readonly peerStates$: Observable<PeerState[]>;
  /** The peer records; silent while only statuses change. */
  readonly peers$: Observable<Peer[]>;
  /** Refusals, sync progress and background problems, for notices and logs. */
  readonly events$: Observable<PeerManagerEvent>;
  /** What was wrong with the stored peers when they were loaded. */
  readonly loadProblems: readonly string[];

  private readonly store: Store<PeerStates>;
  private readonly links = new Map<string, PeerLink>();
  private readonly events = new Subject<PeerManagerEvent>();
  private readonly subscriptions = new Subscription();
  private readonly repository: PeerRepository;
  private readonly limiter: ConcurrencyLimiter;
  private readonly scheduler: SchedulerLike;
  private readonly transport: Transport;
  private readonly linkContext: LinkContext;
  private destroyed = false;

  /** Loads the stored peers, then builds the manager. Never throws for a damaged document: see `loadProblems`. */
  static async open(options: PeerManagerOptions): Promise<PeerManager> {
    const repository = new PeerRepository(options.storage);
    const report = await repository.load();
    return new PeerManager(options, { repository, peers: report.peers, problems: report.problems });
  }

  constructor(
    private readonly options: PeerManagerOptions,
    loaded: { repository?: PeerRepository; peers?: readonly Peer[]; problems?: readonly string[] } = {},
  ) {
    this.transport = options.transport;
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.repository = loaded.repository ?? new PeerRepository(options.storage);
    this.loadProblems = loaded.problems ?? [];
    this.limiter = new ConcurrencyLimiter(options.maxConcurrentDials ?? DEFAULT_MAX_CONCURRENT_DIALS);
    this.store = new Store<PeerStates>(EMPTY_PEER_STATES, (error) => this.problem('A state update failed', error));
    this.events$ = this.events.asObservable();

    this.peerStates$ = this.store.select((states) => Array.from(states.values()));
    this.peers$ = this.peerStates$.pipe(
      map((states) => states.map((state) => state.peer)),
      distinctUntilChanged<Peer[]>(samePeers),
      shareReplay({ bufferSize: 1, refCount: true }),
    );

    const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.linkContext = {
      localNodeId: this.transport.nodeId,
      scheduler: this.scheduler,
      backoff: { ...DEFAULT_BACKOFF, ...options.backoff, random: options.random ?? Math.random },
      redialAll$: options.redialTriggers$ ?? NEVER,
      dial: (nodeId) => this.dial(nodeId, connectTimeoutMs),
      sync: (connection) => options.syncEngine.syncWithPeer(connection),
      autoConnect: (nodeId) => this.store.snapshot.get(nodeId)?.peer.autoConnect ?? false,
      publish: (nodeId, patch) => this.store.update((states) => withLinkChanged(states, nodeId, patch)),
      syncEvent: (nodeId, event) => this.onSyncEvent(nodeId, event),
      adopted: (nodeId, connection) => this.refreshTicket(nodeId, connection.remoteTicket),
    };

    for (const peer of loaded.peers ?? []) this.insert(peer);
    this.subscriptions.add(this.transport.incoming$.subscribe((connection) => this.handleIncoming(connection)));
  }

  /* ---- the spec's interface ---- */

  getPeers(): Peer[] {
    return Array.from(this.store.snapshot.values(), (state) => state.peer);
  }

  getPeerStates(): PeerState[] {
    return Array.from(this.store.snapshot.values());
  }

  getPeer(nodeId: string): Peer | undefined {
    return this.store.snapshot.get(nodeId)?.peer;
  }

  /**
   * Adds the device a ticket points at, saves it and starts connecting.
   * @returns the new peer, or the stored one if the device is already known
   * @throws InvalidTicketError (nothing added) or StorageError (nothing kept)
   */
  async addPeer(ticket: string, name: string): Promise<Peer> {
    this.assertAlive();
    const trimmed = ticket.trim();
    if (trimmed.length === 0) throw InvalidTicketError.empty();
    const { nodeId } = this.transport.parseTicket(trimmed);
    if (nodeId === this.transport.nodeId) throw InvalidTicketError.ownTicket();
    const known = this.getPeer(nodeId);
    if (known) return known;

    const peer: Peer = Object.freeze({
      nodeId,
      name: name.trim() ? normalizeName(name) : defaultName(nodeId),
      ticket: trimmed,
      addedAt: this.now(),
      lastSyncAt: null,
      autoConnect: true,
    });
    this.insert(peer);
    try {
      await this.persist();
    } catch (error) {
      this.forget(nodeId, REASON_REMOVED);
      throw error;
    }
    if (!this.destroyed) this.links.get(nodeId)?.connect();
    return this.getPeer(nodeId) ?? peer;
  }

  /** Disconnects, cancels any pending redial, aborts a running sync, forgets the peer and saves. */
  async removePeer(nodeId: string): Promise<void> {
    this.assertAlive();
    if (!this.links.has(nodeId)) return;
    this.forget(nodeId, REASON_REMOVED);
    await this.persist();
  }

  async updatePeer(nodeId: string, updates: PeerUpdate): Promise<void> {
    this.assertAlive();
    const peer = this.requirePeer(nodeId);
    const changes: { name?: string; autoConnect?: boolean } = {};
    if (updates.name !== undefined) changes.name = normalizeName(updates.name);
    if (updates.autoConnect !== undefined) {
      if (typeof updates.autoConnect !== 'boolean') throw new InvalidPeerUpdateError('autoConnect must be true or false.');
      changes.autoConnect = updates.autoConnect;
    }
    this.store.update((states) => withPeerChanged(states, nodeId, changes));
    if (changes.autoConnect !== undefined && changes.autoConnect !== peer.autoConnect) {
      this.links.get(nodeId)?.autoConnectChanged(changes.autoConnect);
    }
    if (this.getPeer(nodeId) !== peer) await this.persist();
  }

  /**
   * Dials now, skipping any backoff wait; no second dial while connecting or
   * connected. Resolves once this attempt has connected or failed (see the
   * peer's state for which); redials after a failure carry on in the background.
   */
  async connectToPeer(nodeId: string): Promise<void> {
    this.assertAlive();
    this.requirePeer(nodeId);
    this.links.get(nodeId)?.connect();
    await firstValueFrom(
      this.peerState$(nodeId).pipe(
        filter((state) => state.status !== 'connecting'),
        take(1),
      ),
      { defaultValue: undefined },
    );
  }

  /** Closes the connection and stops redialling until asked again; the peer stays known. */
  async disconnectPeer(nodeId: string): Promise<void> {
    this.assertAlive();
    this.requirePeer(nodeId);
    this.links.get(nodeId)?.disconnect();
  }

  /** Starts connecting to every auto-connect peer; does not wait for the dials. */
  async connectAll(): Promise<void> {
    this.assertAlive();
    for (const state of this.store.snapshot.values()) {
      if (state.peer.autoConnect) this.links.get(state.peer.nodeId)?.connect();
    }
  }

  /** Closes every connection and stops redialling; peers stay known. */
  async disconnectAll(): Promise<void> {
    this.assertAlive();
    for (const link of this.links.values()) link.disconnect();
  }

  /**
   * Calls back with every peer's state now and after each change. A callback
   * that throws is reported on `events$` and does not affect other callbacks.
   * @returns a function that stops the callbacks
   */
  onPeerStateChange(callback: (states: PeerState[]) => void): () => void {
    const subscription = this.peerStates$.subscribe((states) => {
      try {
        callback(states);
      } catch (error) {
        this.problem('A peer state listener failed', error);
      }
    });
    return () => subscription.unsubscribe();
  }

  /* ---- observable surface ---- */

  /** One peer's state, emitted only when that peer changes; completes when it is removed. */
  peerState$(nodeId: string): Observable<PeerState> {
    return this.store.state$.pipe(
      map((states) => states.get(nodeId)),
      distinctUntilChanged(),
      takeWhile((state): state is PeerState => state !== undefined),
    );
  }

  /** Dials running or waiting for a slot, for status displays and benchmarks. */
  get dialCounts(): { readonly active: number; readonly queued: number } {
    return { active: this.limiter.active, queued: this.limiter.queued };
  }

  /**
   * Closes every connection, cancels every timer and pipeline, completes every
   * stream, and waits for pending saves. The transport is the caller's to close.
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.subscriptions.unsubscribe();
    for (const link of this.links.values()) link.destroy('This device is shutting down.');
    this.links.clear();
    this.store.destroy();
    this.events.complete();
    await this.repository.flush();
  }

  /* ---- internals ---- */

  private insert(peer: Peer): void {
    if (this.links.has(peer.nodeId)) return;
    this.links.set(peer.nodeId, new PeerLink(peer.nodeId, this.linkContext));
    this.store.update((states) => withPeerAdded(states, peer));
  }

  private forget(nodeId: string, reason: string): void {
    this.links.get(nodeId)?.destroy(reason);
    this.links.delete(nodeId);
    this.store.update((states) => withPeerRemoved(states, nodeId));
  }

  private dial(nodeId: string, timeoutMs: number): Observable<PeerConnection> {
    const attempt$ = defer(() => {
      const ticket = this.store.snapshot.get(nodeId)?.peer.ticket;
      if (ticket === undefined) throw new UnknownPeerError(nodeId);
      return this.transport.connect(ticket);
    }).pipe(take(1), attemptTimeout(timeoutMs, this.scheduler));
    return this.limiter.run(attempt$).pipe(
      map((connection) => {
        if (connection.remoteNodeId !== nodeId) {
          connection.close('You are not the device this ticket was saved for.');
          throw new VaultPeersError('The stored ticket now leads to a different device. Pair this device again.');
        }
        return connection;
      }),
    );
  }

  private handleIncoming(connection: PeerConnection): void {
    const link = this.links.get(connection.remoteNodeId);
    if (link) {
      link.offer(connection);
      return;
    }
    const decision = this.decideAboutStranger(connection);
    if (decision instanceof Promise) {
      decision.then(
        (settled) => this.applyDecision(connection, settled),
        (error: unknown) => {
          this.problem('The unknown-device policy failed', error);
          this.applyDecision(connection, refuseUnknownPeers());
        },
      );
      return;
    }
    this.applyDecision(connection, decision);
  }

  private decideAboutStranger(connection: PeerConnection): UnknownPeerDecision | Promise<UnknownPeerDecision> {
    const policy = this.options.unknownPeerPolicy ?? refuseUnknownPeers;
    try {
      return policy(connection);
    } catch (error) {
      this.problem('The unknown-device policy failed', error);
      return { action: 'refuse', reason: REASON_UNKNOWN_DEVICE };
    }
  }

  private applyDecision(connection: PeerConnection, decision: UnknownPeerDecision): void {
    const nodeId = connection.remoteNodeId;
    if (this.destroyed || decision.action === 'refuse') {
      const reason = decision.action === 'refuse' ? decision.reason : 'This device is shutting down.';
      connection.close(reason);
      if (!this.destroyed) this.events.next({ type: 'refused', nodeId, reason });
      return;
    }
    if (!this.links.has(nodeId)) {
      this.insert(
        Object.freeze({
          nodeId,
          name: decision.name.trim() ? decision.name.trim().slice(0, MAX_NAME_LENGTH) : defaultName(nodeId),
          ticket: decision.ticket,
          addedAt: this.now(),
          lastSyncAt: null,
          autoConnect: true,
        }),
      );
      this.persist().catch((error: unknown) => this.problem('Saving the new device failed', error));
    }
    const link = this.links.get(nodeId);
    link?.offer(connection);
    if (link && this.getPeer(nodeId)?.autoConnect) link.connect();
  }

  /** Keeps the stored ticket pointing where the peer says it is now. */
  private refreshTicket(nodeId: string, ticket: string | undefined): void {
    const peer = this.getPeer(nodeId);
    if (!peer || ticket === undefined || ticket === peer.ticket) return;
    try {
      if (this.transport.parseTicket(ticket).nodeId !== nodeId) return;
    } catch {
      return;
    }
    this.store.update((states) => withPeerChanged(states, nodeId, { ticket }));
    this.persist().catch((error: unknown) => this.problem('Saving the refreshed address failed', error));
  }

  private onSyncEvent(nodeId: string, event: SyncEvent): void {
    this.events.next({ type: 'sync', nodeId, event });
    if (event.type !== 'finished') return;
    const lastSyncAt = this.now();
    this.store.update((states) => withPeerChanged(states, nodeId, { lastSyncAt }));
    this.persist().catch((error: unknown) => this.problem('Saving the sync time failed', error));
  }

  private persist(): Promise<void> {
    return this.repository.save(this.getPeers());
  }

  private now(): string {
    return new Date(this.scheduler.now()).toISOString();
  }

  private requirePeer(nodeId: string): Peer {
    const peer = this.getPeer(nodeId);
    if (!peer) throw new UnknownPeerError(nodeId);
    return peer;
  }

  private assertAlive(): void {
    if (this.destroyed) throw new ManagerDestroyedError();
  }

  private problem(message: string, error: unknown): void {
    if (this.destroyed) return;
    this.events.next({ type: 'problem', message: `${message}: ${errorMessage(error)}`, error });
  }
}
