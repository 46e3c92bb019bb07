import { Subject, Subscription, firstValueFrom, type Observable, type SchedulerLike } from 'rxjs';
import { ManagerDestroyedError, UnknownPeerError } from '../errors';
import {
  OWN_INVITE,
  REASON_AWAITING_APPROVAL,
  REASON_NOT_PAIRED,
  REASON_PAIRING_NOT_SAVED,
  REASON_SHUTTING_DOWN,
} from '../messages';
import { newPeer, type BlockedDevice, type Peer, type PendingRequest } from '../model';
import { announcedName, chosenName, defaultName } from '../names';
import type { PeerConnection, Transport, TransportRefusal, UnknownDevicePolicy } from '../ports';
import { Store } from '../store';
import {
  isBlocked,
  mayConnect,
  withBlocked,
  withRefusalCounted,
  withRequest,
  withRequestsSeen,
  withoutBlocked,
  withoutRequest,
  type AccessState,
  type RequestOutcome,
} from './access';
import { DEFAULT_INVITE_TTL_MS, InviteBook, type OpenInvite } from './invite-book';
import { InvalidInviteError, checkInviteExpiry, parseInvite } from './invite-codec';
import { verificationCode } from './verification-code';

/** What pairing needs from the rest of the manager: the paired peers, dialling and saving. */
export interface PairingHost {
  readonly scheduler: SchedulerLike;
  readonly transport: Pick<Transport, 'nodeId' | 'localAddress' | 'ticketFor'>;
  /** This device's name, written into invites. */
  deviceName(): string;
  /** 16 random bytes as hex, for invite secrets. */
  newSecret(): string;
  /** A dial to pair, in the person lane, timed out, checked to reach `nodeId`. Emits the connection once. */
  dialToPair(ticket: string, nodeId: string, inviteSecret: string): Observable<PeerConnection>;
  peer(nodeId: string): Peer | undefined;
  addPeer(peer: Peer): void;
  changePeer(nodeId: string, changes: { readonly ticket?: string; readonly name?: string }): void;
  /** Forgets a peer; a live connection to it is closed as a removal. */
  forgetPeer(nodeId: string): void;
  /** Hands a connection to its (paired) peer's link. */
  offer(connection: PeerConnection): void;
  /** Dials a peer now, for a person waiting. */
  connect(nodeId: string): void;
  /** Writes everything stored, for a command that must report failure. */
  saveNow(): Promise<void>;
  problem(message: string, error: unknown): void;
}

export type PairingEvent =
  | { readonly type: 'refused'; readonly nodeId: string; readonly reason: string }
  | { readonly type: 'paired'; readonly nodeId: string; readonly name: string }
  | { readonly type: 'pairing-requested'; readonly nodeId: string; readonly name: string };

/** The result of joining with an invite. */
export interface Joined {
  readonly peer: Peer;
  /** Both devices show the same code; a person can compare them. */
  readonly verificationCode: string;
}

export interface PairingInputs {
  readonly policy: UnknownDevicePolicy;
  readonly pending: readonly PendingRequest[];
  readonly blocked: readonly BlockedDevice[];
  /** Connections that are not a paired peer's own: invites, and strangers. */
  readonly connections$: Observable<PeerConnection>;
  /** Nodes the transport turned away itself. */
  readonly refusals$: Observable<TransportRefusal>;
}

/**
 * Pairing and access: invites (shown and used), the policy for devices that
 * come without one, their pending requests, and blocked devices. Owns that
 * slice of state; reaches the paired peers only through its host.
 */
export class Pairing {
  /** Devices that asked to pair under the `ask` policy, oldest first. */
  readonly pendingRequests$: Observable<readonly PendingRequest[]>;
  readonly blockedDevices$: Observable<readonly BlockedDevice[]>;
  /** Pairings, requests and refusals of strangers, for notices and logs. */
  readonly events$: Observable<PairingEvent>;

  private readonly store: Store<AccessState>;
  private readonly invites: InviteBook;
  private readonly events = new Subject<PairingEvent>();
  private readonly subscriptions = new Subscription();
  private destroyed = false;

  constructor(
    private readonly host: PairingHost,
    inputs: PairingInputs,
  ) {
    this.store = new Store<AccessState>(
      { policy: inputs.policy, pending: inputs.pending, blocked: inputs.blocked, lastAsked: new Map() },
      (error) => host.problem('A pairing list update failed', error),
    );
    this.invites = new InviteBook(host.scheduler, () => host.newSecret());
    this.pendingRequests$ = this.store.select((state) => state.pending);
    this.blockedDevices$ = this.store.select((state) => state.blocked);
    this.events$ = this.events.asObservable();
    this.subscriptions.add(inputs.connections$.subscribe((connection) => this.receive(connection)));
    this.subscriptions.add(inputs.refusals$.subscribe(({ nodeId }) => this.store.update((state) => withRefusalCounted(state, nodeId))));
  }

  get unknownDevicePolicy(): UnknownDevicePolicy {
    return this.store.snapshot.policy;
  }

  /** `reject` refuses devices without an invite; `ask` lists them in pendingRequests$ for a person to decide. */
  setUnknownDevicePolicy(policy: UnknownDevicePolicy): void {
    this.store.update((state) => (state.policy === policy ? state : { ...state, policy }));
  }

  getPendingRequests(): readonly PendingRequest[] {
    return this.store.snapshot.pending;
  }

  getBlockedDevices(): readonly BlockedDevice[] {
    return this.store.snapshot.blocked;
  }

  /**
   * The transport's gate, asked before it tells a dialling node anything
   * about this device: paired devices yes, blocked never, a stranger only
   * with an invite this device recognises or under `ask`. No side effects.
   */
  mayConnect(nodeId: string, presentedInviteSecret?: string): boolean {
    const state = this.store.snapshot;
    return mayConnect({
      paired: this.host.peer(nodeId) !== undefined,
      blocked: isBlocked(state, nodeId),
      bringsKnownInvite: presentedInviteSecret !== undefined && this.invites.recognises(presentedInviteSecret),
      policy: state.policy,
    });
  }


  /**
   * Opens a one-time invite. While it waits, the device that presents its
   * secret is paired without anything more to type here.
   */
  createInvite(options: { ttlMs?: number } = {}): OpenInvite {
    this.assertAlive();
    return this.invites.create(this.host.transport.localAddress(), this.host.deviceName(), options.ttlMs ?? DEFAULT_INVITE_TTL_MS);
  }

  /**
   * Pairs with the device an invite came from: dials it presenting the
   * invite's secret, and stores it once that device accepts.
   * @throws InvalidInviteError (nothing stored), PeerRefusedError with the inviter's reason (nothing stored)
   */
  async joinWithInvite(text: string, name = ''): Promise<Joined> {
    this.assertAlive();
    const invite = parseInvite(text);
    checkInviteExpiry(invite, this.host.scheduler.now());
    const nodeId = invite.address.nodeId;
    if (nodeId === this.host.transport.nodeId) throw new InvalidInviteError('not-an-invite', OWN_INVITE);
    const named = name.trim() ? chosenName(name) : '';
    const ticket = this.host.transport.ticketFor(invite.address);
    const connection = await firstValueFrom(this.host.dialToPair(ticket, nodeId, invite.secret));
    if (this.destroyed) {
      connection.close(REASON_SHUTTING_DOWN);
      throw new ManagerDestroyedError();
    }
    const known = this.host.peer(nodeId);
    if (known) {
      this.host.changePeer(nodeId, { ticket, ...(named ? { name: named } : {}) });
    } else {
      const announced = announcedName(connection.remoteName) || announcedName(invite.inviterName) || defaultName(nodeId);
      this.host.addPeer(newPeer(nodeId, named || announced, ticket, this.now()));
    }
    try {
      await this.host.saveNow();
    } catch (error) {
      connection.close(REASON_PAIRING_NOT_SAVED);
      if (known) this.host.changePeer(nodeId, { ticket: known.ticket, name: known.name });
      else this.host.forgetPeer(nodeId);
      throw error;
    }
    this.host.offer(connection);
    const peer = this.requirePeer(nodeId);
    this.events.next({ type: 'paired', nodeId, name: peer.name });
    return { peer, verificationCode: await verificationCode(this.host.transport.nodeId, nodeId) };
  }

  /** Pairs with a device that asked; it is dialled at once. */
  async acceptRequest(nodeId: string): Promise<Peer> {
    this.assertAlive();
    const request = this.store.snapshot.pending.find((r) => r.nodeId === nodeId);
    if (!request) throw new UnknownPeerError(nodeId);
    const added = !this.host.peer(nodeId);
    this.store.update((state) => withoutRequest(state, nodeId));
    if (added) this.host.addPeer(newPeer(nodeId, request.name, request.ticket, this.now()));
    try {
      await this.host.saveNow();
    } catch (error) {
      this.store.update((state) => (state.pending.some((r) => r.nodeId === nodeId) ? state : { ...state, pending: [...state.pending, request] }));
      if (added) this.host.forgetPeer(nodeId);
      throw error;
    }
    this.host.connect(nodeId);
    this.events.next({ type: 'paired', nodeId, name: request.name });
    return this.requirePeer(nodeId);
  }

  /** Drops a request; the device may ask again. */
  async ignoreRequest(nodeId: string): Promise<void> {
    this.assertAlive();
    this.store.update((state) => withoutRequest(state, nodeId));
    await this.host.saveNow();
  }

  /** A person has been shown these requests (all when no ids are given): a full list pushes out unseen ones first. */
  markRequestsSeen(nodeIds?: readonly string[]): void {
    this.store.update((state) => withRequestsSeen(state, nodeIds));
  }

  /** Refuses a device from now on, silently. A paired device is removed first. */
  async blockDevice(nodeId: string): Promise<void> {
    this.assertAlive();
    const name = this.host.peer(nodeId)?.name ?? this.store.snapshot.pending.find((r) => r.nodeId === nodeId)?.name ?? '';
    if (this.host.peer(nodeId)) this.host.forgetPeer(nodeId);
    this.store.update((state) => withBlocked(state, { nodeId, name, blockedAt: this.now(), refusals: 0 }));
    await this.host.saveNow();
  }

  async unblockDevice(nodeId: string): Promise<void> {
    this.assertAlive();
    this.store.update((state) => withoutBlocked(state, nodeId));
    await this.host.saveNow();
  }

  /** Cancels every open invite and completes every stream. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.subscriptions.unsubscribe();
    this.invites.destroy();
    this.store.destroy();
    this.events.complete();
  }

  /* ---- connections that are not a paired peer's own ---- */

  private receive(connection: PeerConnection): void {
    const nodeId = connection.remoteNodeId;
    if (isBlocked(this.store.snapshot, nodeId)) {
      // Silent: a blocked device is not worth a notice each time it tries.
      this.store.update((state) => withRefusalCounted(state, nodeId));
      connection.close(REASON_NOT_PAIRED, 'refused');
    } else if (connection.inviteSecret !== undefined) {
      this.acceptInvite(connection, connection.inviteSecret);
    } else if (this.store.snapshot.policy === 'ask') {
      this.listRequest(connection);
    } else {
      this.refuse(connection, REASON_NOT_PAIRED);
    }
  }

  private refuse(connection: PeerConnection, reason: string): void {
    connection.close(reason, 'refused');
    this.events.next({ type: 'refused', nodeId: connection.remoteNodeId, reason });
  }

  /** A device that dialled with an invite: pair if the secret is good, refuse with the reason otherwise. */
  private acceptInvite(connection: PeerConnection, secret: string): void {
    const nodeId = connection.remoteNodeId;
    const redemption = this.invites.redeem(secret);
    if (!redemption.ok) {
      this.refuse(connection, redemption.reason);
      return;
    }
    const known = this.host.peer(nodeId);
    const ticket = connection.remoteTicket ?? known?.ticket ?? this.host.transport.ticketFor({ nodeId, addresses: [], relay: null });
    if (known) this.host.changePeer(nodeId, { ticket });
    else this.host.addPeer(newPeer(nodeId, announcedName(connection.remoteName) || defaultName(nodeId), ticket, this.now()));
    this.store.update((state) => withoutRequest(state, nodeId));
    this.host.saveNow().then(
      async () => {
        if (this.destroyed || !this.host.peer(nodeId)) {
          connection.close(REASON_SHUTTING_DOWN);
          redemption.fail();
          return;
        }
        this.host.offer(connection);
        const peer = this.requirePeer(nodeId);
        this.events.next({ type: 'paired', nodeId, name: peer.name });
        redemption.complete(peer, await verificationCode(this.host.transport.nodeId, nodeId));
      },
      (error: unknown) => {
        this.host.problem('Saving the new device failed', error);
        connection.close(REASON_PAIRING_NOT_SAVED, 'refused');
        if (!known) this.host.forgetPeer(nodeId);
        redemption.fail();
      },
    );
  }

  /** Under the `ask` policy: list the request for a person to decide, and tell the device to wait. */
  private listRequest(connection: PeerConnection): void {
    const nodeId = connection.remoteNodeId;
    const existing = this.store.snapshot.pending.find((r) => r.nodeId === nodeId);
    const request = {
      nodeId,
      name: announcedName(connection.remoteName) || defaultName(nodeId),
      ticket: connection.remoteTicket ?? existing?.ticket ?? this.host.transport.ticketFor({ nodeId, addresses: [], relay: null }),
    };
    connection.close(REASON_AWAITING_APPROVAL, 'refused');
    let outcome: RequestOutcome | undefined;
    this.store.update(
      (state) => {
        const result = withRequest(state, request, this.host.scheduler.now(), this.now());
        outcome = result.outcome;
        return result.state;
      },
      () => {
        if (outcome === 'listed') this.events.next({ type: 'pairing-requested', nodeId, name: request.name });
      },
    );
  }

  private now(): string {
    return new Date(this.host.scheduler.now()).toISOString();
  }

  private requirePeer(nodeId: string): Peer {
    const peer = this.host.peer(nodeId);
    if (!peer) throw new UnknownPeerError(nodeId);
    return peer;
  }

  private assertAlive(): void {
    if (this.destroyed) throw new ManagerDestroyedError();
  }
}
