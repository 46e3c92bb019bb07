/**
 * What Vault Peers offers other plugins:
 *
 *   const api = app.plugins.getPlugin('vault-peers')?.api as VaultPeersApi | undefined;
 *
 * Read-only: records and statuses, never a connection or anything that acts
 * on one. Streams replay the current value to each new subscriber.
 * Unsubscribe when your plugin unloads (`this.register(() => subscription.unsubscribe())`).
 *
 * Version 2 (from 1): the states are `PeerView`s: no `connection` (it let
 * other plugins close or accept connections), plus `syncProgress`.
 */
import type { Observable } from 'rxjs';
import type { Peer, PeerView } from '../core/model';
import { peerViewOf } from '../core/link/link-state';
import type { PeerManager } from '../core/peer-manager';

export type { Peer, PeerView, PeerStatus } from '../core/model';
export type { SyncProgress } from '../core/ports';

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
}

export function createApi(manager: PeerManager): VaultPeersApi {
  return Object.freeze({
    version: 2 as const,
    peers$: manager.peers$,
    peerStates$: manager.peerViews$,
    peerState$: (nodeId: string) => manager.peerView$(nodeId),
    // The manager isolates a throwing callback and reports it; views are memoized, so these are peerStates$'s objects.
    onPeerStateChange: (callback: (states: PeerView[]) => void) => manager.onPeerStateChange((states) => callback(states.map(peerViewOf))),
  });
}
