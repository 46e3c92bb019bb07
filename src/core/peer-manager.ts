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
import { InvalidInviteError, checkInviteExpiry, parseInvite, verificationCode } from './invite';
import { DEFAULT_INVITE_TTL_MS, InviteBook, type OpenInvite } from './invites';
import { MAX_NAME_LENGTH, shortId, type Peer, type PeerState, type PeerUpdate } from './model';
import { PeerLink, type LinkContext } from './peer-link';
import { toHex } from './bytes';
import { REASON_AWAITING_APPROVAL, REASON_NOT_PAIRED, REASON_REMOVED, REASON_SHUTTING_DOWN } from './messages';
import {
  EMPTY_PEER_STATES,
  withLinkChanged,
  withPeerAdded,
  withPeerChanged,
  withPeerRemoved,
  type PeerStates,
} from './peer-states';
import { PeerRepository, type BlockedDevice, type PendingRequest, type StoredState } from './persistence';
import type { PeerConnection, PeerStorage, SyncEngine, SyncEvent, Transport, UnknownDevicePolicy } from './ports';
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
  /** What to do with a device that connects without an invite: `reject` (default) or `ask`. */
  readonly unknownDevicePolicy?: UnknownDevicePolicy;
  /** This device's name, written into invites. */
  readonly deviceName?: () => string;
  /** 16 random bytes as hex, for invite secrets; injected so specs are deterministic. */
  readonly newSecret?: () => string;
}

/** The result of joining with an invite. */
export interface Joined {
  readonly peer: Peer;
  /** Both devices show the same code; a person can compare them. */
  readonly verificationCode: string;
}

interface PairingLists {
  readonly pending: readonly PendingRequest[];
  readonly blocked: readonly BlockedDevice[];
}

export type PeerManagerEvent =
  | { readonly type: 'refused'; readonly nodeId: string; readonly reason: string }
  | { readonly type: 'paired'; readonly nodeId: string; readonly name: string }
  | { readonly type: 'pairing-requested'; readonly nodeId: string; readonly name: string }
  | { readonly type: 'removed-by-peer'; readonly nodeId: string }
  | { readonly type: 'sync'; readonly nodeId: string; readonly event: SyncEvent }
  /** Something went wrong in the background (a failed save, a throwing callback). */
  | { readonly type: 'problem'; readonly message: string; readonly error?: unknown };

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_CONCURRENT_DIALS = 4;
/** A hostile device could fill the list with made-up ids; past this many, requests are refused. */
export const MAX_PENDING_REQUESTS = 50;

function randomSecret(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return toHex(bytes);
}

/** A name another device announced, made safe to store; empty when unusable. */
function announcedName(name: string | undefined): string {
  const printable = [...(name ?? '')].filter((char) => char >= ' ' && char !== '\u007f').join('');
  return printable.trim().slice(0, MAX_NAME_LENGTH);
}

function normalizeName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw new InvalidPeerUpdateError('A device name cannot be empty.');
  if (trimmed.length > MAX_NAME_LENGTH) {
    throw new InvalidPeerUpdateError(`A device name can be at most ${MAX_NAME_LENGTH} characters long.`);
  }
  return trimmed;
}

function defaultName(nodeId: string): string {
  return `Device ${shortId(nodeId)}`;
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
  /** Devices that asked to pair under the `ask` policy, oldest first. */
  readonly pendingRequests$: Observable<readonly PendingRequest[]>;
  readonly blockedDevices$: Observable<readonly BlockedDevice[]>;

  private readonly store: Store<PeerStates>;
  private readonly links = new Map<string, PeerLink>();
  private readonly events = new Subject<PeerManagerEvent>();
  private readonly subscriptions = new Subscription();
  private readonly repository: PeerRepository;
  private readonly limiter: ConcurrencyLimiter;
  private readonly scheduler: SchedulerLike;
  private readonly transport: Transport;
  private readonly linkContext: LinkContext;
  private readonly lists: Store<PairingLists>;
  private readonly invites: InviteBook;
  private policy: UnknownDevicePolicy;
  private refusalsUnsaved = false;
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
    this.repository = loaded.repository ?? new PeerRepository(options.storage);
    this.loadProblems = loaded.problems ?? [];
    this.limiter = new ConcurrencyLimiter(options.maxConcurrentDials ?? DEFAULT_MAX_CONCURRENT_DIALS);
    this.store = new Store<PeerStates>(EMPTY_PEER_STATES, (error) => this.problem('A state update failed', error));
    this.events$ = this.events.asObservable();
    this.policy = options.unknownDevicePolicy ?? 'reject';
    this.invites = new InviteBook(this.scheduler, options.newSecret ?? randomSecret);
    this.lists = new Store<PairingLists>(
      { pending: loaded.pendingRequests ?? [], blocked: loaded.blockedDevices ?? [] },
      (error) => this.problem('A pairing list update failed', error),
    );
    this.pendingRequests$ = this.lists.select((lists) => lists.pending);
    this.blockedDevices$ = this.lists.select((lists) => lists.blocked);

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
      removedByPeer: (nodeId) => this.events.next({ type: 'removed-by-peer', nodeId }),
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

    const peer = this.newPeer(nodeId, name.trim() ? normalizeName(name) : '', trimmed);
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
    this.forget(nodeId, REASON_REMOVED, 'removed');
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

  /* ---- pairing ---- */

  /**
   * Opens a one-time invite. While it waits, the device that presents its
   * secret is paired without anything more to type here.
   */
  createInvite(options: { ttlMs?: number } = {}): OpenInvite {
    this.assertAlive();
    return this.invites.create(this.transport.localAddress(), this.options.deviceName?.() ?? '', options.ttlMs ?? DEFAULT_INVITE_TTL_MS);
  }

  /**
   * Pairs with the device an invite came from: dials it presenting the
   * invite's secret, and stores it once that device accepts.
   * @throws InvalidInviteError (nothing stored), PeerRefusedError with the inviter's reason (nothing stored)
   */
  async joinWithInvite(text: string, name = ''): Promise<Joined> {
    this.assertAlive();
    const invite = parseInvite(text);
    checkInviteExpiry(invite, this.scheduler.now());
    const nodeId = invite.address.nodeId;
    if (nodeId === this.transport.nodeId) {
      throw new InvalidInviteError('not-an-invite', "This is this device's own invite. Use it on the other device.");
    }
    const chosenName = name.trim() ? normalizeName(name) : '';
    const ticket = this.transport.ticketFor(invite.address);
    const connectTimeoutMs = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const connection = await firstValueFrom(
      this.limiter.run(
        this.transport.connect(ticket, { inviteSecret: invite.secret }).pipe(take(1), attemptTimeout(connectTimeoutMs, this.scheduler)),
      ),
    );
    if (connection.remoteNodeId !== nodeId || this.destroyed) {
      connection.close('You are not the device this invite came from.');
      throw new VaultPeersError('The invite led to a different device than the one that made it. Ask for a new invite.');
    }
    const known = this.getPeer(nodeId);
    const freshTicket = connection.remoteTicket ?? ticket;
    if (known) {
      this.store.update((states) => withPeerChanged(states, nodeId, { ticket: freshTicket, ...(chosenName ? { name: chosenName } : {}) }));
    } else {
      this.insert(this.newPeer(nodeId, chosenName || announcedName(connection.remoteName) || announcedName(invite.inviterName), freshTicket));
    }
    try {
      await this.persist();
    } catch (error) {
      connection.close('The other device could not save the pairing.');
      if (!known) this.forget(nodeId, REASON_REMOVED);
      throw error;
    }
    const link = this.links.get(nodeId);
    link?.keep();
    link?.offer(connection);
    this.events.next({ type: 'paired', nodeId, name: this.getPeer(nodeId)?.name ?? '' });
    return { peer: this.requirePeer(nodeId), verificationCode: await verificationCode(this.transport.nodeId, nodeId) };
  }

  /** `reject` refuses devices without an invite; `ask` lists them in pendingRequests$ for a person to decide. */
  setUnknownDevicePolicy(policy: UnknownDevicePolicy): void {
    this.policy = policy;
  }

  get unknownDevicePolicy(): UnknownDevicePolicy {
    return this.policy;
  }

  /**
   * Whether a transport should let a node get as far as saying hello. Known
   * peers always; blocked devices never (counted, and refused like any
   * stranger); others only while an invite is open or the policy is `ask`.
   */
  admits(nodeId: string): boolean {
    if (this.links.has(nodeId)) return true;
    if (this.lists.snapshot.blocked.some((device) => device.nodeId === nodeId)) {
      this.countRefusal(nodeId);
      return false;
    }
    return this.invites.expectingDevices || this.policy === 'ask';
  }

  /** Pairs with a device that asked; it is dialled at once. */
  async acceptRequest(nodeId: string): Promise<Peer> {
    this.assertAlive();
    const request = this.lists.snapshot.pending.find((r) => r.nodeId === nodeId);
    if (!request) throw new UnknownPeerError(nodeId);
    this.lists.update((lists) => ({ ...lists, pending: lists.pending.filter((r) => r.nodeId !== nodeId) }));
    if (!this.links.has(nodeId)) this.insert(this.newPeer(nodeId, request.name, request.ticket));
    await this.persist();
    this.links.get(nodeId)?.connect();
    this.events.next({ type: 'paired', nodeId, name: request.name });
    return this.requirePeer(nodeId);
  }

  /** Drops a request; the device may ask again. */
  async ignoreRequest(nodeId: string): Promise<void> {
    this.assertAlive();
    this.lists.update((lists) => ({ ...lists, pending: lists.pending.filter((r) => r.nodeId !== nodeId) }));
    await this.persist();
  }

  /** Refuses a device from now on, silently. A paired device is removed first. */
  async blockDevice(nodeId: string): Promise<void> {
    this.assertAlive();
    const name = this.getPeer(nodeId)?.name ?? this.lists.snapshot.pending.find((r) => r.nodeId === nodeId)?.name ?? '';
    if (this.links.has(nodeId)) this.forget(nodeId, REASON_REMOVED, 'removed');
    this.lists.update((lists) => ({
      pending: lists.pending.filter((r) => r.nodeId !== nodeId),
      blocked: lists.blocked.some((b) => b.nodeId === nodeId)
        ? lists.blocked
        : [...lists.blocked, Object.freeze({ nodeId, name, blockedAt: this.now(), refusals: 0 })],
    }));
    await this.persist();
  }

  async unblockDevice(nodeId: string): Promise<void> {
    this.assertAlive();
    this.lists.update((lists) => ({ ...lists, blocked: lists.blocked.filter((b) => b.nodeId !== nodeId) }));
    await this.persist();
  }

  getPendingRequests(): readonly PendingRequest[] {
    return this.lists.snapshot.pending;
  }

  getBlockedDevices(): readonly BlockedDevice[] {
    return this.lists.snapshot.blocked;
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
    this.invites.destroy();
    for (const link of this.links.values()) link.destroy(REASON_SHUTTING_DOWN);
    this.links.clear();
    if (this.refusalsUnsaved) this.persist().catch(() => undefined);
    this.store.destroy();
    this.lists.destroy();
    this.events.complete();
    await this.repository.flush();
  }

  /* ---- internals ---- */

  private insert(peer: Peer): void {
    if (this.links.has(peer.nodeId)) return;
    this.links.set(peer.nodeId, new PeerLink(peer.nodeId, this.linkContext));
    this.store.update((states) => withPeerAdded(states, peer));
  }

  private newPeer(nodeId: string, name: string, ticket: string): Peer {
    return Object.freeze({
      nodeId,
      name: name || defaultName(nodeId),
      ticket,
      addedAt: this.now(),
      lastSyncAt: null,
      autoConnect: true,
    });
  }

  private forget(nodeId: string, reason: string, kind?: 'removed'): void {
    this.links.get(nodeId)?.destroy(reason, kind);
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
    const nodeId = connection.remoteNodeId;
    const link = this.links.get(nodeId);
    if (connection.inviteSecret !== undefined) {
      this.acceptInvite(connection);
      return;
    }
    if (link) {
      link.offer(connection);
      return;
    }
    if (this.lists.snapshot.blocked.some((device) => device.nodeId === nodeId)) {
      this.countRefusal(nodeId);
      connection.close(REASON_NOT_PAIRED, 'refused');
      return;
    }
    if (this.policy === 'ask') {
      this.recordRequest(connection);
      return;
    }
    this.refuse(connection, REASON_NOT_PAIRED);
  }

  private refuse(connection: PeerConnection, reason: string): void {
    connection.close(reason, 'refused');
    this.events.next({ type: 'refused', nodeId: connection.remoteNodeId, reason });
  }

  /** A device that dialled with an invite: pair if the secret is good, refuse with the reason otherwise. */
  private acceptInvite(connection: PeerConnection): void {
    const nodeId = connection.remoteNodeId;
    if (this.lists.snapshot.blocked.some((device) => device.nodeId === nodeId)) {
      this.countRefusal(nodeId);
      connection.close(REASON_NOT_PAIRED, 'refused');
      return;
    }
    const redemption = this.invites.redeem(connection.inviteSecret ?? '');
    if (!redemption.ok) {
      this.refuse(connection, redemption.reason);
      return;
    }
    const known = this.getPeer(nodeId);
    const ticket = connection.remoteTicket ?? known?.ticket ?? this.transport.ticketFor({ nodeId, addresses: [], relay: null });
    if (known) {
      this.store.update((states) => withPeerChanged(states, nodeId, { ticket }));
    } else {
      this.insert(this.newPeer(nodeId, announcedName(connection.remoteName), ticket));
    }
    this.lists.update((lists) => ({ ...lists, pending: lists.pending.filter((r) => r.nodeId !== nodeId) }));
    this.persist().then(
      async () => {
        const link = this.links.get(nodeId);
        if (!link || this.destroyed) {
          connection.close(REASON_SHUTTING_DOWN);
          redemption.fail();
          return;
        }
        link.keep();
        link.offer(connection);
        const peer = this.requirePeer(nodeId);
        this.events.next({ type: 'paired', nodeId, name: peer.name });
        redemption.complete(peer, await verificationCode(this.transport.nodeId, nodeId));
      },
      (error: unknown) => {
        this.problem('Saving the new device failed', error);
        connection.close('The other device could not save the pairing.', 'refused');
        if (!known) this.forget(nodeId, REASON_REMOVED);
        redemption.fail();
      },
    );
  }

  /** Under the `ask` policy: remember the request for a person to decide, and tell the device to wait. */
  private recordRequest(connection: PeerConnection): void {
    const nodeId = connection.remoteNodeId;
    const pending = this.lists.snapshot.pending;
    const existing = pending.find((r) => r.nodeId === nodeId);
    if (!existing && pending.length >= MAX_PENDING_REQUESTS) {
      this.refuse(connection, REASON_NOT_PAIRED);
      return;
    }
    const request: PendingRequest = Object.freeze({
      nodeId,
      name: announcedName(connection.remoteName) || defaultName(nodeId),
      ticket: connection.remoteTicket ?? existing?.ticket ?? this.transport.ticketFor({ nodeId, addresses: [], relay: null }),
      requestedAt: existing?.requestedAt ?? this.now(),
    });
    connection.close(REASON_AWAITING_APPROVAL, 'refused');
    this.lists.update((lists) => ({ ...lists, pending: [...lists.pending.filter((r) => r.nodeId !== nodeId), request] }));
    if (!existing) this.events.next({ type: 'pairing-requested', nodeId, name: request.name });
    this.persist().catch((error: unknown) => this.problem('Saving the pairing request failed', error));
  }

  private countRefusal(nodeId: string): void {
    this.lists.update((lists) => ({
      ...lists,
      blocked: lists.blocked.map((b) => (b.nodeId === nodeId ? Object.freeze({ ...b, refusals: b.refusals + 1 }) : b)),
    }));
    this.refusalsUnsaved = true;
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
    const { pending, blocked } = this.lists.snapshot;
    const state: StoredState = { peers: this.getPeers(), pendingRequests: pending, blockedDevices: blocked };
    this.refusalsUnsaved = false;
    return this.repository.save(state);
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
