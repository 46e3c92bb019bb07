import {
  Subscription,
  distinctUntilChanged,
  filter,
  map,
  shareReplay,
  takeWhile,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import { dialAttempt } from './link/dial-attempt';
import { DialLimiter, type DialLane } from './link/dial-limiter';
import { linkEffects, type LinkEffectsContext, type LinkNotice } from './link/link-effects';
import { peerReducer } from './link/link-reducer';
import { NO_PEERS, connectionOf, peerStateSelector, peerViewOf, type LinkEvent, type PeerEntries, type PeerEvent } from './link/link-state';
import { DropPacer, type RedialOptions } from './link/redial-schedule';
import {
  INVITE_LEADS_ELSEWHERE,
  REASON_DUPLICATE,
  REASON_NOT_PAIRED,
  REASON_NOT_THIS_INVITES_DEVICE,
  REASON_NOT_THIS_TICKETS_DEVICE,
  REASON_PAUSED,
  TICKET_LEADS_ELSEWHERE,
} from './messages';
import type { Peer, PeerState, PeerView } from './model';
import type { PeerConnection, SyncEngine, Transport } from './ports';
import { Store, forEachKey } from './store';

export interface PeerLinksOptions {
  readonly transport: Transport;
  readonly syncEngine: SyncEngine;
  readonly scheduler: SchedulerLike;
  readonly random: () => number;
  readonly redial: RedialOptions;
  /** Dials running at once in each lane. */
  readonly maxConcurrentDials: number;
  readonly maxDialRetries: number | undefined;
  readonly redialTriggers$: Observable<unknown>;
  /** Sync events, redialling given up, the peer removing us: for the manager's events. */
  notify(nodeId: string, notice: LinkNotice): void;
  problem(message: string, error: unknown): void;
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

function replayLatest<T>() {
  return shareReplay<T>({ bufferSize: 1, refCount: true });
}

/**
 * Every paired peer's record and link, in one store changed only by the peer
 * reducer, and the effects that follow it: per peer one dial loop and one
 * watch over the current connection. The one source of truth for views.
 */
export class PeerLinks {
  readonly peerStates$: Observable<PeerState[]>;
  readonly peerViews$: Observable<PeerView[]>;
  readonly peers$: Observable<Peer[]>;

  private readonly store: Store<PeerEntries>;
  private readonly reduce: (entries: PeerEntries, event: PeerEvent) => PeerEntries;
  private readonly selectStates = peerStateSelector();
  private readonly peerStateMap$: Observable<ReadonlyMap<string, PeerState>>;
  private readonly limiter: DialLimiter;

  constructor(
    private readonly options: PeerLinksOptions,
    peers: readonly Peer[],
  ) {
    this.limiter = new DialLimiter(options.maxConcurrentDials);
    this.reduce = peerReducer({ localNodeId: options.transport.nodeId, stableAfterMs: options.redial.stableAfterMs });
    this.store = new Store<PeerEntries>(NO_PEERS, (error) => options.problem('A state update failed', error));
    for (const peer of peers) this.dispatch({ type: 'added', peer });
    this.peerStateMap$ = this.store.select(this.selectStates);
    this.peerStates$ = this.peerStateMap$.pipe(map((states) => [...states.values()]), distinctUntilChanged<PeerState[]>(sameItems), replayLatest());
    this.peerViews$ = this.peerStates$.pipe(map((states) => states.map(peerViewOf)), distinctUntilChanged<PeerView[]>(sameItems), replayLatest());
    this.peers$ = this.peerStates$.pipe(map((states) => states.map((state) => state.peer)), distinctUntilChanged<Peer[]>(sameItems), replayLatest());
  }

  get entries(): PeerEntries {
    return this.store.snapshot;
  }

  peer(nodeId: string): Peer | undefined {
    return this.store.snapshot.get(nodeId)?.peer;
  }

  states(): PeerState[] {
    return [...this.selectStates(this.store.snapshot).values()];
  }

  /** One peer's state, emitted only when that peer changes; completes when it is removed. */
  peerState$(nodeId: string): Observable<PeerState> {
    return this.peerStateMap$.pipe(
      map((states) => states.get(nodeId)),
      distinctUntilChanged(),
      takeWhile((state): state is PeerState => state !== undefined),
    );
  }

  /** Applies an event; `applied` sees the resulting state (after every subscriber). */
  dispatch(event: PeerEvent, applied?: (entries: PeerEntries) => void): void {
    this.store.update((entries) => this.reduce(entries, event), applied);
  }

  /**
   * Starts the effects: every peer's dial loop and connection watch, and the
   * connections paired peers open to this device (those that are not
   * `forPairing`). Unsubscribing stops them all, closing connections.
   */
  start(incoming$: Observable<PeerConnection>, forPairing: (connection: PeerConnection) => boolean): Subscription {
    const effects = new Subscription();
    const context = this.effectsContext();
    effects.add(incoming$.pipe(filter((connection) => !forPairing(connection))).subscribe((connection) => this.offer(connection)));
    effects.add(forEachKey(this.store.state$, (nodeId, entry$) => linkEffects(nodeId, entry$, context)).subscribe());
    return effects;
  }

  /** A dial to pair with an invite: a person waits for it. */
  dialToPair(ticket: string, nodeId: string, inviteSecret: string): Observable<PeerConnection> {
    return this.dial(ticket, nodeId, this.options.redial.connectTimeoutMs, 'person', undefined, inviteSecret);
  }

  /** A connection to a paired peer: the reducer decides whether it becomes the current one; one it turns down is closed saying why. */
  offer(connection: PeerConnection): void {
    const nodeId = connection.remoteNodeId;
    const ticket = this.freshTicket(nodeId, connection.remoteTicket);
    const event: LinkEvent = { type: 'offered', connection, at: this.options.scheduler.now(), ...(ticket === undefined ? {} : { ticket }) };
    this.dispatch({ nodeId, ...event }, (entries) => {
      const entry = entries.get(nodeId);
      if (connectionOf(entry?.link) === connection) return;
      if (!entry) connection.close(REASON_NOT_PAIRED, 'refused');
      else if (entry.link.mode === 'paused') connection.close(REASON_PAUSED, 'refused');
      else connection.close(REASON_DUPLICATE);
    });
  }

  /** Completes every stream; later events are ignored. */
  destroy(): void {
    this.store.destroy();
  }

  /** The ticket a connection brought, when it is new and points at the same peer. */
  private freshTicket(nodeId: string, ticket: string | undefined): string | undefined {
    if (ticket === undefined || ticket === this.peer(nodeId)?.ticket) return undefined;
    try {
      return this.options.transport.parseTicket(ticket).nodeId === nodeId ? ticket : undefined;
    } catch {
      return undefined;
    }
  }

  private dial(
    ticket: string,
    nodeId: string,
    timeoutMs: number,
    lane: DialLane,
    promote$?: Observable<unknown>,
    inviteSecret?: string,
  ): Observable<PeerConnection> {
    const connect$ = this.options.transport.connect(ticket, inviteSecret === undefined ? {} : { inviteSecret });
    const wrongDevice =
      inviteSecret === undefined
        ? { tell: REASON_NOT_THIS_TICKETS_DEVICE, error: TICKET_LEADS_ELSEWHERE }
        : { tell: REASON_NOT_THIS_INVITES_DEVICE, error: INVITE_LEADS_ELSEWHERE };
    return this.limiter.run(dialAttempt(connect$, nodeId, { timeoutMs, scheduler: this.options.scheduler, wrongDevice }), lane, promote$);
  }

  private effectsContext(): LinkEffectsContext {
    const { options } = this;
    return {
      scheduler: options.scheduler,
      redial: options.redial,
      random: options.random,
      pacer: new DropPacer(options.redial.burstSize, options.redial.burstIntervalMs),
      redialTriggers$: options.redialTriggers$,
      maxDialRetries: options.maxDialRetries,
      entry: (nodeId) => this.store.snapshot.get(nodeId),
      dispatch: (nodeId, event) => this.dispatch({ nodeId, ...event }),
      dial: (nodeId, timeoutMs, lane, promote$) => this.dial(this.peer(nodeId)?.ticket ?? '', nodeId, timeoutMs, lane, promote$),
      sync: (connection) => options.syncEngine.syncWithPeer(connection),
      offer: (connection) => this.offer(connection),
      notify: (nodeId, notice) => options.notify(nodeId, notice),
    };
  }
}
