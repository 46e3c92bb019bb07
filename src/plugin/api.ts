/**
 * What Vault Peers offers other plugins:
 *
 *   const api = app.plugins.getPlugin('vault-peers')?.api as VaultPeersApi | undefined;
 *
 * Read-only: records, statuses and what the sync does, never a connection
 * or anything that acts on one. Streams of state replay the current value to
 * each new subscriber; `syncEvents$` is events as they happen. Unsubscribe
 * when your plugin unloads (`this.register(() => subscription.unsubscribe())`).
 *
 * Version 2 (from 1): the states are `PeerView`s: no `connection` (it let
 * other plugins close or accept connections), plus `syncProgress`. Later
 * additions that break nothing keep the version: `syncEvents$`,
 * `onSyncEvent` and `conflicts$` (check for them before use).
 */
import { Observable, filter, map } from 'rxjs';
import type { Peer, PeerView } from '../core/model';
import { peerViewOf } from '../core/link/link-state';
import type { PeerManager } from '../core/peer-manager';
import type { SyncEvent } from '../core/ports';
import type { ConflictCopy } from '../sync';

export type { Peer, PeerView, PeerStatus } from '../core/model';
export type { SyncEvent, SyncProgress } from '../core/ports';
export type { ConflictCopy } from '../sync';

/**
 * Something the sync with one device did: `started` a catch-up or a burst
 * of changes, `progress` (files and bytes), `finished` (everything applied
 * and stored), `merged` (concurrent edits of a note, all kept) or
 * `conflict` (two versions of a file kept, one as `copy`). Paths are
 * vault paths, as `app.vault.getFileByPath` takes them.
 */
export type VaultPeersSyncEvent = SyncEvent & {
  /** The device the sync is with. */
  readonly nodeId: string;
};

export interface VaultPeersApi {
  /** API version; bumped on breaking changes. */
  readonly version: 2;
  /** Paired devices; quiet while only statuses change. */
  readonly peers$: Observable<Peer[]>;
  /** Every paired device with its live status. */
  readonly peerStates$: Observable<PeerView[]>;
  /** One device's state, emitted only when it changes; completes when the device is removed. */
  peerState$(nodeId: string): Observable<PeerView>;
  /** Calls back now and on every change; returns a function that stops it. */
  onPeerStateChange(callback: (states: PeerView[]) => void): () => void;
  /** Sync events of every device, as they happen. */
  readonly syncEvents$: Observable<VaultPeersSyncEvent>;
  /** Calls back on each sync event; returns a function that stops it. A callback that throws is logged and does not stop the others. */
  onSyncEvent(callback: (event: VaultPeersSyncEvent) => void): () => void;
  /** The conflict copies in the vault now, and after each change. */
  readonly conflicts$: Observable<readonly ConflictCopy[]>;
}

export function createApi(manager: PeerManager, sync: { readonly conflicts$: Observable<readonly ConflictCopy[]> }): VaultPeersApi {
  const syncEvents$: Observable<VaultPeersSyncEvent> = manager.events$.pipe(
    filter((event) => event.type === 'sync'),
    map((event) => Object.freeze({ ...event.event, nodeId: event.nodeId })),
  );
  return Object.freeze({
    version: 2 as const,
    peers$: manager.peers$,
    peerStates$: manager.peerViews$,
    peerState$: (nodeId: string) => manager.peerView$(nodeId),
    // The manager isolates a throwing callback and reports it; views are memoized, so these are peerStates$'s objects.
    onPeerStateChange: (callback: (states: PeerView[]) => void) => manager.onPeerStateChange((states) => callback(states.map(peerViewOf))),
    syncEvents$,
    onSyncEvent: (callback: (event: VaultPeersSyncEvent) => void) => {
      const subscription = syncEvents$.subscribe((event) => {
        try {
          callback(event);
        } catch (error) {
          console.error('Vault Peers: a sync event listener of another plugin failed', error);
        }
      });
      return () => subscription.unsubscribe();
    },
    conflicts$: sync.conflicts$,
  });
}
