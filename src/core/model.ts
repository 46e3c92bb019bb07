import type { PeerConnection } from './ports';

/** A device this one has been paired with, as stored in data.json. */
export interface Peer {
  /** Iroh node id (public key) */
  readonly nodeId: string;
  /** User-assigned name for this peer */
  readonly name: string;
  /** Last known connection ticket */
  readonly ticket: string;
  /** When this peer was added (ISO 8601) */
  readonly addedAt: string;
  /** Last successful sync (ISO 8601), or null before the first */
  readonly lastSyncAt: string | null;
  /** Whether to connect on start-up and redial after a drop */
  readonly autoConnect: boolean;
}

export type PeerStatus = 'disconnected' | 'connecting' | 'connected' | 'syncing';

export const PEER_STATUSES: readonly PeerStatus[] = ['disconnected', 'connecting', 'connected', 'syncing'];

/** A peer and what is happening with it right now. Never stored. */
export interface PeerState {
  readonly peer: Peer;
  readonly status: PeerStatus;
  /** Active connection if connected */
  readonly connection: PeerConnection | null;
  /** Last error if any: kept while redialling so a person can see why it is not connected */
  readonly lastError: string | null;
}

/** The fields a person may change on a known peer. */
export type PeerUpdate = Partial<Pick<Peer, 'name' | 'autoConnect'>>;

export const MAX_NAME_LENGTH = 100;

/** The first 8 characters of a node id: enough to tell a person's devices apart on screen. */
export function shortId(nodeId: string): string {
  return nodeId.slice(0, 8);
}
