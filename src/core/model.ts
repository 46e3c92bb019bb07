import type { PeerConnection, SyncProgress } from './ports';

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

/**
 * What anyone may see of a peer right now: no connection object and nothing
 * that acts on one. Other plugins get only this. Never stored.
 */
export interface PeerView {
  readonly peer: Peer;
  readonly status: PeerStatus;
  /** Last error if any: kept while redialling so a person can see why it is not connected */
  readonly lastError: string | null;
  /** How far the running sync has come, while `syncing` and once the engine has said. */
  readonly syncProgress: SyncProgress | null;
}

/** The spec's PeerState: the view plus the live connection, for this plugin's own code. */
export interface PeerState extends PeerView {
  /** Active connection if connected */
  readonly connection: PeerConnection | null;
}

/** The fields a person may change on a known peer. */
export type PeerUpdate = Partial<Pick<Peer, 'name' | 'autoConnect'>>;

/** A device that asked to pair under the `ask` policy and waits for a person's answer. */
export interface PendingRequest {
  readonly nodeId: string;
  readonly name: string;
  readonly ticket: string;
  readonly requestedAt: string;
  /** A person has been shown this request (a full list evicts unseen requests first). */
  readonly seen: boolean;
}

/** A device whose requests are refused without asking. */
export interface BlockedDevice {
  readonly nodeId: string;
  readonly name: string;
  readonly blockedAt: string;
  /** Requests refused since it was blocked. */
  readonly refusals: number;
}

export const MAX_NAME_LENGTH = 100;

/** The first 8 characters of a node id: enough to tell a person's devices apart on screen. */
export function shortId(nodeId: string): string {
  return nodeId.slice(0, 8);
}

/** A freshly paired device's record: auto-connect on, never synced. */
export function newPeer(nodeId: string, name: string, ticket: string, addedAt: string): Peer {
  return Object.freeze({ nodeId, name, ticket, addedAt, lastSyncAt: null, autoConnect: true });
}
