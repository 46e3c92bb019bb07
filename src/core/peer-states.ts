import type { Peer, PeerState } from './model';

/** The store's state: every known peer's state, in the order they were added. */
export type PeerStates = ReadonlyMap<string, PeerState>;

export const EMPTY_PEER_STATES: PeerStates = new Map();

export type LinkPatch = Pick<PeerState, 'status' | 'connection' | 'lastError'>;

/* Pure updaters: each returns a new map (or the same one when nothing changed). */

export function withPeerAdded(states: PeerStates, peer: Peer): PeerStates {
  if (states.has(peer.nodeId)) return states;
  const next = new Map(states);
  next.set(peer.nodeId, Object.freeze({ peer, status: 'disconnected', connection: null, lastError: null }));
  return next;
}

export function withPeerRemoved(states: PeerStates, nodeId: string): PeerStates {
  if (!states.has(nodeId)) return states;
  const next = new Map(states);
  next.delete(nodeId);
  return next;
}

export function withPeerChanged(states: PeerStates, nodeId: string, changes: Partial<Omit<Peer, 'nodeId'>>): PeerStates {
  const state = states.get(nodeId);
  if (!state) return states;
  const keys = Object.keys(changes) as (keyof typeof changes)[];
  if (keys.every((key) => state.peer[key] === changes[key])) return states;
  const peer: Peer = Object.freeze({ ...state.peer, ...changes });
  return new Map(states).set(nodeId, Object.freeze({ ...state, peer }));
}

export function withLinkChanged(states: PeerStates, nodeId: string, patch: LinkPatch): PeerStates {
  const state = states.get(nodeId);
  if (!state) return states;
  if (state.status === patch.status && state.connection === patch.connection && state.lastError === patch.lastError) {
    return states;
  }
  return new Map(states).set(nodeId, Object.freeze({ ...state, ...patch }));
}
