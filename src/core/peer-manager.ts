import { NEVER, Subject, asyncScheduler, combineLatest, distinctUntilChanged, filter, firstValueFrom, map, merge, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { toHex } from './bytes';
import { InvalidPeerUpdateError, InvalidTicketError, ManagerDestroyedError, UnknownPeerError, errorMessage } from './errors';
import type { LinkNotice } from './link/link-effects';
import { peerViewOf, type PeerEvent } from './link/link-state';
import { DEFAULT_REDIAL, type RedialOptions } from './link/redial-schedule';
import { REASON_REMOVED_BY_PEER } from './messages';
import { newPeer, type BlockedDevice, type Peer, type PeerState, type PeerUpdate, type PeerView, type PendingRequest } from './model';
import { chosenName, defaultName } from './names';
import { Pairing, type PairingEvent, type PairingHost } from './pairing/pairing';
import { PeerLinks } from './peer-links';
import { PeerRepository, type StoredState } from './persistence';
import type { PeerConnection, PeerStorage, SyncEngine, SyncEvent, Transport, UnknownDevicePolicy } from './ports';
import { Saves } from './saves';

export interface PeerManagerOptions {
  readonly transport: Transport;
  readonly syncEngine: SyncEngine;
  readonly storage: PeerStorage;
  /** Every timer runs on it; specs pass a TestScheduler. */
  readonly scheduler?: SchedulerLike;
  /** Numbers in [0, 1] for jitter. */
  readonly random?: () => number;
  /** Backoff between attempts outside the quick phase (base 1 s, cap 60 s). */
  readonly backoff?: Partial<RedialOptions['backoff']>;
  /** How long one dial may take outside the quick phase. iroh's own limit is 30 s. */
  readonly connectTimeoutMs?: number;
  /** The rest of the redial schedule (see RedialOptions). */
  readonly redial?: Partial<Omit<RedialOptions, 'backoff' | 'connectTimeoutMs'>>;
  /** Dials running at once in each lane (background, and dials a person waits for). */
  readonly maxConcurrentDials?: number;
  /** Failed attempts retried before a peer's redialling gives up (a `gave-up` event). Default: never gives up. */
  readonly maxDialRetries?: number;
  /** Each emission ends every pending redial wait (network back, app resumed). */
  readonly redialTriggers$?: Observable<unknown>;
  /** What to do with a device that connects without an invite: `reject` (default) or `ask`. */
  readonly unknownDevicePolicy?: UnknownDevicePolicy;
  /** This device's name, written into invites. */
  readonly deviceName?: () => string;
  /** 16 random bytes as hex, for invite secrets; injected so specs are deterministic. */
  readonly newSecret?: () => string;
  /** How long background changes (sync times, fresh tickets, requests) gather before one write. */
  readonly saveDelayMs?: number;
}

export type PeerManagerEvent =
  | PairingEvent
  | { readonly type: 'removed-by-peer'; readonly nodeId: string }
  /** A peer's redialling stopped: it refused on purpose, or the attempts ran out. Nothing more is tried until asked. */
  | { readonly type: 'gave-up'; readonly nodeId: string; readonly reason: string }
  | { readonly type: 'sync'; readonly nodeId: string; readonly event: SyncEvent }
  /** Something went wrong in the background (a failed save, a throwing callback). */
  | { readonly type: 'problem'; readonly message: string; readonly error?: unknown };

export const DEFAULT_MAX_CONCURRENT_DIALS = 4;

function randomSecret(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return toHex(bytes);
}

/**
 * The spec's PeerManager. Every peer's record and link live in one store,
 * changed only by the peer reducer; effects follow the store (one dial loop
 * and one connection watch per peer, one background save), and views read
 * it. Pairing and access live in `pairing`.
 */
export class PeerManager {
  /** Every peer's state (with its live connection), re-emitted when any of them changes. */
  readonly peerStates$: Observable<PeerState[]>;
  /** The same without connections: for views and other plugins. */
  readonly peerViews$: Observable<PeerView[]>;
  /** The peer records; silent while only statuses change. */
  readonly peers$: Observable<Peer[]>;
  /** Pairings, refusals, sync progress, redialling given up, background problems: for notices and logs. */
  readonly events$: Observable<PeerManagerEvent>;
  /** What was wrong with the stored peers when they were loaded. */
  readonly loadProblems: readonly string[];
  /** Invites, joining, the unknown-device policy, pending requests and blocked devices. */
  readonly pairing: Pairing;

  private readonly links: PeerLinks;
  private readonly events = new Subject<PeerManagerEvent>();
  private readonly effects: Subscription;
  private readonly saves: Saves;
  private readonly scheduler: SchedulerLike;
  private readonly transport: Transport;
  private destroyed = false;

  /** Loads the stored peers, then builds the manager. Never throws for a damaged document: see `loadProblems`. */
  static async open(options: PeerManagerOptions): Promise<PeerManager> {
    const repository = new PeerRepository(options.storage);
    const report = await repository.load();
    return new PeerManager(options, { repository, ...report });
  }

  constructor(
    private readonly options: PeerManagerOptions,
    loaded: {
      repository?: PeerRepository;
      peers?: readonly Peer[];
      pendingRequests?: readonly PendingRequest[];
      blockedDevices?: readonly BlockedDevice[];
      problems?: readonly string[];
    } = {},
  ) {
    this.transport = options.transport;
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.loadProblems = loaded.problems ?? [];
    const redial: RedialOptions = {
      ...DEFAULT_REDIAL,
      ...options.redial,
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
      backoff: { ...DEFAULT_REDIAL.backoff, ...options.backoff },
    };
    this.links = new PeerLinks(
      {
        transport: this.transport,
        syncEngine: options.syncEngine,
        scheduler: this.scheduler,
        random: options.random ?? Math.random,
        redial,
        maxConcurrentDials: options.maxConcurrentDials ?? DEFAULT_MAX_CONCURRENT_DIALS,
        maxDialRetries: options.maxDialRetries,
        redialTriggers$: options.redialTriggers$ ?? NEVER,
        notify: (nodeId, notice) => this.notify(nodeId, notice),
        problem: (message, error) => this.problem(message, error),
      },
      loaded.peers ?? [],
    );
    this.peerStates$ = this.links.peerStates$;
    this.peerViews$ = this.links.peerViews$;
    this.peers$ = this.links.peers$;

    // Invites and strangers go to pairing; a paired peer's own connections to its link.
    const forPairing = (connection: PeerConnection): boolean =>
      connection.inviteSecret !== undefined || !this.links.entries.has(connection.remoteNodeId);
    const incoming$ = this.transport.incoming$;
    this.pairing = new Pairing(this.pairingHost(), {
      policy: options.unknownDevicePolicy ?? 'reject',
      pending: loaded.pendingRequests ?? [],
      blocked: loaded.blockedDevices ?? [],
      connections$: incoming$.pipe(filter(forPairing)),
      refusals$: this.transport.refused$ ?? NEVER,
    });
    this.events$ = merge(this.events, this.pairing.events$);
    this.saves = new Saves(loaded.repository ?? new PeerRepository(options.storage), this.stored());

    this.effects = this.links.start(incoming$, forPairing);
    const stored$ = combineLatest([this.peers$, this.pairing.pendingRequests$, this.pairing.blockedDevices$]).pipe(
      map(([peers, pendingRequests, blockedDevices]): StoredState => ({ peers, pendingRequests, blockedDevices })),
    );
    this.effects.add(
      this.saves.inBackground(stored$, this.scheduler, options.saveDelayMs).subscribe((error) => this.problem('Saving the peers failed', error)),
    );
  }

  /* ---- the spec's interface ---- */

  getPeers(): Peer[] {
    return Array.from(this.links.entries.values(), (entry) => entry.peer);
  }

  getPeerStates(): PeerState[] {
    return this.links.states();
  }

  getPeer(nodeId: string): Peer | undefined {
    return this.links.peer(nodeId);
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
    const peer = newPeer(nodeId, name.trim() ? chosenName(name) : defaultName(nodeId), trimmed, this.now());
    this.dispatch({ type: 'added', peer });
    try {
      await this.saveNow();
    } catch (error) {
      this.dispatch({ type: 'removed', nodeId });
      throw error;
    }
    if (!this.destroyed) this.dispatch({ nodeId, type: 'connect', urgent: true });
    return this.getPeer(nodeId) ?? peer;
  }

  /** Disconnects (telling the peer it was removed), cancels any redial, aborts a running sync, forgets the peer and saves. */
  async removePeer(nodeId: string): Promise<void> {
    this.assertAlive();
    if (!this.links.entries.has(nodeId)) return;
    this.dispatch({ type: 'removed', nodeId });
    await this.saveNow();
  }

  async updatePeer(nodeId: string, updates: PeerUpdate): Promise<void> {
    this.assertAlive();
    const peer = this.requirePeer(nodeId);
    const changes: { name?: string; autoConnect?: boolean } = {};
    if (updates.name !== undefined) changes.name = chosenName(updates.name);
    if (updates.autoConnect !== undefined) {
      if (typeof updates.autoConnect !== 'boolean') throw InvalidPeerUpdateError.notABoolean('autoConnect');
      changes.autoConnect = updates.autoConnect;
    }
    this.dispatch({ type: 'changed', nodeId, changes });
    if (this.getPeer(nodeId) !== peer) await this.saveNow();
  }

  /**
   * Dials now, skipping any wait, ahead of background redials; no second dial
   * while connecting or connected. Resolves once this attempt has connected or
   * failed (see the peer's state for which); redials after a failure carry on
   * in the background.
   */
  async connectToPeer(nodeId: string): Promise<void> {
    this.assertAlive();
    this.requirePeer(nodeId);
    this.dispatch({ nodeId, type: 'connect', urgent: true });
    await firstValueFrom(this.peerState$(nodeId).pipe(filter((state) => state.status !== 'connecting')), { defaultValue: undefined });
  }

  /** Closes the connection and stops redialling until asked again; the peer stays known. */
  async disconnectPeer(nodeId: string): Promise<void> {
    this.assertAlive();
    this.requirePeer(nodeId);
    this.dispatch({ nodeId, type: 'disconnect' });
  }

  /** Starts connecting to every auto-connect peer; does not wait for the dials. */
  async connectAll(): Promise<void> {
    this.assertAlive();
    for (const [nodeId, entry] of this.links.entries) if (entry.peer.autoConnect) this.dispatch({ nodeId, type: 'connect', urgent: false });
  }

  /** Closes every connection and stops redialling; peers stay known. */
  async disconnectAll(): Promise<void> {
    this.assertAlive();
    for (const nodeId of this.links.entries.keys()) this.dispatch({ nodeId, type: 'disconnect' });
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

  /** One peer's state, emitted only when that peer changes; completes when it is removed. */
  peerState$(nodeId: string): Observable<PeerState> {
    return this.links.peerState$(nodeId);
  }

  /** One peer's public view; completes when it is removed. */
  peerView$(nodeId: string): Observable<PeerView> {
    return this.peerState$(nodeId).pipe(map(peerViewOf), distinctUntilChanged());
  }

  /**
   * Closes every connection, cancels every timer and pipeline, completes every
   * stream, and writes what is not saved yet. The transport is the caller's to close.
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const stored = this.stored();
    this.effects.unsubscribe();
    this.pairing.destroy();
    this.links.destroy();
    this.events.complete();
    await this.saves.flush(stored);
  }

  /* ---- internals ---- */

  private dispatch(event: PeerEvent): void {
    this.links.dispatch(event);
  }

  private notify(nodeId: string, notice: LinkNotice): void {
    if (notice.type === 'sync') this.events.next({ type: 'sync', nodeId, event: notice.event });
    else if (notice.type === 'gave-up') this.events.next({ type: 'gave-up', nodeId, reason: notice.reason });
    // The removal is heard either as the live connection's close or, when that
    // connection had just been replaced (both sides dialled at once), as the
    // refusal of the redial: both end the link, so this is said once.
    if (notice.type !== 'sync' && notice.reason === REASON_REMOVED_BY_PEER) this.events.next({ type: 'removed-by-peer', nodeId });
  }

  private pairingHost(): PairingHost {
    return {
      scheduler: this.scheduler,
      transport: this.transport,
      deviceName: () => this.options.deviceName?.() ?? '',
      newSecret: this.options.newSecret ?? randomSecret,
      dialToPair: (ticket, nodeId, inviteSecret) => this.links.dialToPair(ticket, nodeId, inviteSecret),
      peer: (nodeId: string) => this.getPeer(nodeId),
      addPeer: (peer: Peer) => this.dispatch({ type: 'added', peer }),
      changePeer: (nodeId: string, changes: { ticket?: string; name?: string }) => this.dispatch({ type: 'changed', nodeId, changes }),
      forgetPeer: (nodeId: string) => this.dispatch({ type: 'removed', nodeId }),
      offer: (connection: PeerConnection) => this.links.offer(connection),
      connect: (nodeId: string) => this.dispatch({ nodeId, type: 'connect', urgent: true }),
      saveNow: () => this.saveNow(),
      problem: (message: string, error: unknown) => this.problem(message, error),
    };
  }

  private stored(): StoredState {
    return { peers: this.getPeers(), pendingRequests: this.pairing.getPendingRequests(), blockedDevices: this.pairing.getBlockedDevices() };
  }

  private saveNow(): Promise<void> {
    return this.saves.now(this.stored());
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
