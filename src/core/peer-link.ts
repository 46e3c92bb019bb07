import {
  Subject,
  Subscription,
  concat,
  defer,
  ignoreElements,
  merge,
  take,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import { backoffWait, retryWithBackoff, type BackoffConfig } from './backoff';
import { PeerRefusedError, errorMessage } from './errors';
import type { PeerStatus } from './model';
import type { LinkPatch } from './peer-states';
import { REASON_DISCONNECTED, REASON_DUPLICATE, REASON_PAUSED, REASON_REMOVED_BY_PEER, REASON_REPLACED } from './messages';
import type { CloseKind, PeerConnection, SyncEvent } from './ports';
import { preferredConnection, winningDirection } from './tie-break';

/** What a link needs from its manager. */
export interface LinkContext {
  readonly localNodeId: string;
  readonly scheduler: SchedulerLike;
  readonly backoff: BackoffConfig;
  /** Fires when every waiting redial should go now (network back, app resumed). */
  readonly redialAll$: Observable<unknown>;
  /** One dial attempt: limited, timed out and checked. Emits the connection once. */
  dial(nodeId: string): Observable<PeerConnection>;
  sync(connection: PeerConnection): Observable<SyncEvent>;
  autoConnect(nodeId: string): boolean;
  publish(nodeId: string, patch: LinkPatch): void;
  syncEvent(nodeId: string, event: SyncEvent): void;
  /** A connection became this peer's current one. */
  adopted(nodeId: string, connection: PeerConnection): void;
  /** The peer closed the connection because it removed this device. */
  removedByPeer(nodeId: string): void;
}

/**
 * - `idle`: no dialling; connections the peer opens are accepted.
 * - `maintain`: dial until connected; after a drop, redial if auto-connect is on.
 * - `paused`: the person disconnected; no dialling, the peer's connections are refused.
 */
type LinkMode = 'idle' | 'maintain' | 'paused';


/**
 * One peer's connection supervisor: at most one current connection, one
 * redial pipeline (dial attempts with backoff between failures), and the sync
 * running over the current connection.
 */
export class PeerLink {
  private mode: LinkMode = 'idle';
  private current: PeerConnection | null = null;
  private currentSubscription: Subscription | null = null;
  private dialSubscription: Subscription | null = null;
  /** An attempt is subscribed (queued for a slot or dialling), as opposed to waiting out a backoff. */
  private dialing = false;
  private syncing = false;
  private lastError: string | null = null;
  private readonly skipWait$ = new Subject<void>();

  constructor(
    readonly nodeId: string,
    private readonly context: LinkContext,
  ) {}

  get connection(): PeerConnection | null {
    return this.current;
  }

  /** Dial now (skipping any backoff wait) and keep the connection. */
  connect(): void {
    this.mode = 'maintain';
    if (this.current) return;
    if (this.dialSubscription) {
      this.skipWait$.next();
      return;
    }
    this.startDialing(false);
  }

  /** Keep this peer connected from now on (redial after drops) without dialling now: a connection is on its way. */
  keep(): void {
    this.mode = 'maintain';
  }

  /** Close the connection and stop redialling until asked again. */
  disconnect(): void {
    this.mode = 'paused';
    this.stopDialing();
    this.closeCurrent(REASON_PAUSED);
    this.lastError = null;
    this.publish();
  }

  autoConnectChanged(autoConnect: boolean): void {
    if (autoConnect) {
      this.connect();
    } else if (this.mode === 'maintain') {
      this.mode = 'idle';
      if (!this.current) {
        this.stopDialing();
        this.publish();
      }
    }
  }

  /** A connection to this peer, dialled by us or by them. */
  offer(connection: PeerConnection): void {
    if (connection.direction === 'incoming' && this.mode === 'paused') {
      connection.close(REASON_PAUSED, 'refused');
      return;
    }
    const existing = this.current;
    if (existing) {
      if (preferredConnection(this.context.localNodeId, existing, connection) === 'existing') {
        connection.close(REASON_DUPLICATE);
        return;
      }
      this.closeCurrent(REASON_REPLACED);
    }
    if (connection.direction === 'incoming' && this.dialSubscription) {
      // A pending redial is pointless now. A dial already under way is kept
      // only if it would win the tie-break: cancelling it could close the very
      // connection the peer has chosen to keep.
      const ourDialWouldWin = winningDirection(this.context.localNodeId, this.nodeId) === 'outgoing';
      if (!this.dialing || !ourDialWouldWin) this.stopDialing();
    }
    this.adopt(connection);
  }

  /** Ends everything; the peer is being removed (`kind` tells it so) or the manager destroyed. */
  destroy(reason: string, kind?: CloseKind): void {
    this.mode = 'paused';
    this.stopDialing();
    this.closeCurrent(reason, kind);
    this.skipWait$.complete();
  }

  private startDialing(afterDrop: boolean): void {
    const attempts$ = defer(() => {
      this.dialing = true;
      this.publish();
      return this.context.dial(this.nodeId);
    }).pipe(
      retryWithBackoff({
        backoff: this.context.backoff,
        scheduler: this.context.scheduler,
        skipWait$: this.skipNow$(),
        onRetry: (error) => {
          this.dialing = false;
          this.lastError = errorMessage(error);
          this.publish();
        },
        // Stop when connected meanwhile through the peer's own dial, or when the
        // peer refused us on purpose: redialling cannot help until it changes its mind.
        shouldRetry: (error) => this.current === null && !(error instanceof PeerRefusedError),
      }),
    );
    // After a drop the first redial waits one short jittered delay: the peer
    // may be restarting, and if so it is likely to dial us first.
    const loop$ = afterDrop
      ? concat(backoffWait(1, this.context.backoff, this.context.scheduler, this.skipNow$()).pipe(ignoreElements()), attempts$)
      : attempts$;

    const subscription = new Subscription();
    this.dialSubscription = subscription;
    const finished = (): void => {
      if (this.dialSubscription !== subscription) return;
      this.dialSubscription = null;
      this.dialing = false;
    };
    subscription.add(
      loop$.pipe(take(1)).subscribe({
        next: (connection) => {
          finished();
          this.offer(connection);
        },
        complete: () => {
          finished();
          this.publish();
        },
      }),
    );
  }

  private skipNow$(): Observable<unknown> {
    return merge(this.skipWait$, this.context.redialAll$);
  }

  private stopDialing(): void {
    const subscription = this.dialSubscription;
    this.dialSubscription = null;
    this.dialing = false;
    subscription?.unsubscribe();
  }

  private adopt(connection: PeerConnection): void {
    if (connection.direction === 'incoming') connection.accept?.();
    this.current = connection;
    this.syncing = false;
    this.lastError = null;
    const subscription = new Subscription();
    this.currentSubscription = subscription;
    this.publish();
    this.context.adopted(this.nodeId, connection);
    subscription.add(connection.closed$.pipe(take(1)).subscribe((reason) => this.onClosed(connection, reason)));
    if (this.current !== connection) return;
    subscription.add(
      defer(() => this.context.sync(connection)).subscribe({
        next: (event) => this.onSyncEvent(event),
        error: (error: unknown) => {
          this.syncing = false;
          this.lastError = `Sync failed: ${errorMessage(error)}`;
          this.publish();
        },
        complete: () => {
          if (!this.syncing) return;
          this.syncing = false;
          this.publish();
        },
      }),
    );
  }

  private onSyncEvent(event: SyncEvent): void {
    this.context.syncEvent(this.nodeId, event);
    if (event.type === 'started' && !this.syncing) {
      this.syncing = true;
      this.publish();
    } else if (event.type === 'finished' && this.syncing) {
      this.syncing = false;
      this.publish();
    }
  }

  private onClosed(connection: PeerConnection, reason: string): void {
    if (connection !== this.current) return;
    this.currentSubscription?.unsubscribe();
    this.currentSubscription = null;
    this.current = null;
    this.syncing = false;
    this.lastError = reason || REASON_DISCONNECTED;
    if (reason === REASON_REMOVED_BY_PEER) {
      // No point redialling a device that unpaired us: it would refuse every dial.
      this.mode = 'idle';
      this.publish();
      this.context.removedByPeer(this.nodeId);
      return;
    }
    this.publish();
    if (this.mode === 'maintain' && this.context.autoConnect(this.nodeId)) {
      if (!this.dialSubscription) this.startDialing(true);
    } else if (this.mode === 'maintain') {
      this.mode = 'idle';
    }
  }

  private closeCurrent(reason: string, kind?: CloseKind): void {
    const connection = this.current;
    if (!connection) return;
    // Forget it before closing, so its closed$ does not look like a drop.
    this.currentSubscription?.unsubscribe();
    this.currentSubscription = null;
    this.current = null;
    this.syncing = false;
    connection.close(reason, kind);
  }

  private publish(): void {
    const status: PeerStatus = this.current
      ? this.syncing
        ? 'syncing'
        : 'connected'
      : this.dialing
        ? 'connecting'
        : 'disconnected';
    this.context.publish(this.nodeId, { status, connection: this.current, lastError: this.lastError });
  }
}
