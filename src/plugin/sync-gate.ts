import { Observable, ReplaySubject, defer, filter, finalize, firstValueFrom, switchMap, take, type Subscription } from 'rxjs';
import type { FrameStream, PeerConnection, SyncEngine, SyncEvent } from '../core/ports';
import { SYNC_PROTOCOL, encodeMessage } from '../sync/wire';

/**
 * The SyncEngine the peer manager is given. The manager opens at plugin
 * load, the engine only once Obsidian's layout is ready (its first scan
 * reads the whole vault, which must not slow Obsidian's start); meanwhile a
 * connection's sync waits here. A device this one does not sync with
 * ("Sync with this device" off) is told so and nothing is exchanged.
 */
export class SyncGate implements SyncEngine {
  constructor(
    private readonly engine$: Observable<SyncEngine | null>,
    private readonly syncOn: (nodeId: string) => boolean,
    /** Why this device does not sync with the other, as the other device will show it. */
    private readonly offReason: () => string,
  ) {}

  syncWithPeer(connection: PeerConnection): Observable<SyncEvent> {
    return defer(() => {
      if (!this.syncOn(connection.remoteNodeId)) return declineSync(connection, this.offReason());
      // A sync stream the other device opens while the engine is starting would be turned away after a
      // moment by the transport; it is taken now and handed to the engine when it is ready.
      const held = holdSyncStream(connection);
      return this.engine$.pipe(
        filter((engine): engine is SyncEngine => engine !== null),
        take(1),
        switchMap((engine) => engine.syncWithPeer(held.connection)),
        finalize(() => held.release()),
      );
    });
  }
}

/**
 * Says no to syncing on this connection: the sync stream (opened here, or
 * the one the other device opens) carries one BYE with `reason`, which the
 * other device shows and then stops, as after any clean stop. Completes when
 * the connection ends; no events.
 */
export function declineSync(connection: PeerConnection, reason: string): Observable<SyncEvent> {
  return new Observable<SyncEvent>((subscriber) => {
    let stopped = false;
    let stream: FrameStream | null = null;
    const streamPromise: Promise<FrameStream | null> =
      connection.direction === 'outgoing' ? connection.openStream(SYNC_PROTOCOL) : firstValueFrom(connection.incomingStreams(SYNC_PROTOCOL), { defaultValue: null });
    streamPromise
      .then(async (opened) => {
        if (!opened) return;
        if (stopped) return opened.reset();
        stream = opened;
        await opened.write(encodeMessage({ type: 'bye', reason }));
        await opened.finish();
      })
      .catch(() => undefined);
    const ended: Subscription = connection.closed$.subscribe(() => subscriber.complete());
    return () => {
      stopped = true;
      ended.unsubscribe();
      // Reset only when this side lets go: a reset right after the BYE could drop it on the way.
      stream?.reset();
    };
  });
}

/** The connection as the engine sees it, with the other device's sync stream held from now on. */
function holdSyncStream(connection: PeerConnection): { connection: PeerConnection; release(): void } {
  if (connection.direction === 'outgoing') return { connection, release: () => undefined };
  const held = new ReplaySubject<FrameStream>();
  const holding = connection.incomingStreams(SYNC_PROTOCOL).subscribe(held);
  let taken = false;
  const wrapped: PeerConnection = {
    remoteNodeId: connection.remoteNodeId,
    direction: connection.direction,
    ...(connection.remoteInstanceId !== undefined ? { remoteInstanceId: connection.remoteInstanceId } : {}),
    ...(connection.remoteTicket !== undefined ? { remoteTicket: connection.remoteTicket } : {}),
    ...(connection.remoteName !== undefined ? { remoteName: connection.remoteName } : {}),
    ...(connection.inviteSecret !== undefined ? { inviteSecret: connection.inviteSecret } : {}),
    ...(connection.accept ? { accept: () => connection.accept?.() } : {}),
    closed$: connection.closed$,
    close: (reason, kind) => connection.close(reason, kind),
    openStream: (protocol) => connection.openStream(protocol),
    incomingStreams: (protocol) =>
      protocol === SYNC_PROTOCOL
        ? defer(() => {
            taken = true;
            return held;
          })
        : connection.incomingStreams(protocol),
  };
  return {
    connection: wrapped,
    release: () => {
      holding.unsubscribe();
      // Streams nobody took (the sync never started) are turned away, as the transport would have.
      if (!taken) held.subscribe((stream) => stream.reset()).unsubscribe();
    },
  };
}
