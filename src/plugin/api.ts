/**
 * What Vault Peers offers other plugins:
 *
 *   const api = app.plugins.getPlugin('vault-peers')?.api as VaultPeersApi | undefined;
 *
 * Streams replay the current value to each new subscriber. Unsubscribe when
 * your plugin unloads (`this.register(() => subscription.unsubscribe())`).
 */
import type { Observable } from 'rxjs';
import type { Peer, PeerState } from '../core/model';
import type { PeerManager } from '../core/peer-manager';

export type { Peer, PeerState, PeerStatus } from '../core/model';

export interface VaultPeersApi {
  /** API version; bumped on breaking changes. */
  readonly version: 1;
  /** Paired devices; quiet while only statuses change. */
  readonly peers$: Observable<Peer[]>;
  /** Every paired device with its live status. */
  readonly peerStates$: Observable<PeerState[]>;
  /** One device's state, emitted only when it changes; completes when the device is removed. */
  peerState$(nodeId: string): Observable<PeerState>;
  /** Calls back now and on every change; returns a function that stops it. */
  onPeerStateChange(callback: (states: PeerState[]) => void): () => void;
}

export function createApi(manager: PeerManager): VaultPeersApi {
  return Object.freeze({
    version: 1 as const,
    peers$: manager.peers$,
    peerStates$: manager.peerStates$,
    peerState$: (nodeId: string) => manager.peerState$(nodeId),
    onPeerStateChange: (callback: (states: PeerState[]) => void) => manager.onPeerStateChange(callback),
  });
}
