import type { Peer, PeerState, PeerStatus, PeerView } from '../model';
import type { PeerConnection, SyncEvent, SyncProgress } from '../ports';

interface Common {
  /** Why the peer is not (fully) connected, for a person: kept while redialling. */
  readonly lastError: string | null;
  /**
   * Connections in a row that dropped within the stable time of opening. While
   * a peer flaps like this, its redials back off instead of starting at once.
   */
  readonly unstableDrops: number;
}

interface Trying extends Common {
  /** The attempt under way, or the one that starts when the wait ends (1 for the first). */
  readonly attempt: number;
  /**
   * When the stable connection this redialling follows dropped; null when it
   * began with a command. For a while after a drop, redials come quick.
   */
  readonly droppedAt: number | null;
}

interface Live extends Common {
  readonly connection: PeerConnection;
  /** When this connection was adopted. */
  readonly since: number;
  /** Our own dial is still under way and will replace this connection when it lands (it wins the tie-break). */
  readonly dialPending: boolean;
}

/** One peer's link: what is happening with its connection, as a value. */
export type LinkState =
  /** Not dialling; connections the peer opens are accepted. */
  | (Common & { readonly mode: 'idle' })
  /** An attempt is queued for a dial slot or under way. `urgent`: someone is waiting for it. */
  | (Trying & { readonly mode: 'dialing'; readonly urgent: boolean })
  /** Between attempts: the next one starts at `nextDialAt` (scheduler time). */
  | (Trying & { readonly mode: 'waiting'; readonly nextDialAt: number })
  | (Live & { readonly mode: 'connected' })
  | (Live & { readonly mode: 'syncing'; readonly progress: SyncProgress | null })
  /** The person disconnected: no dialling, and the peer's own connections are refused. */
  | (Common & { readonly mode: 'paused' })
  /** The peer turned this device away on purpose (`lastError` says why): no redial until someone asks. */
  | (Common & { readonly mode: 'refused' });

/** A peer in the store: its stored record and its link. */
export interface PeerEntry {
  readonly peer: Peer;
  readonly link: LinkState;
}

/** The store's state: every known peer, in the order they were added. */
export type PeerEntries = ReadonlyMap<string, PeerEntry>;

export const NO_PEERS: PeerEntries = new Map();

/** What a peer's link goes through. Commands come from a person or the app, the rest from the dial loop, the transport and the sync engine. */
export type LinkEvent =
  /** Dial now, skipping any wait. `urgent`: a person asked and waits for the result. */
  | { readonly type: 'connect'; readonly urgent: boolean }
  /** Close, and stop dialling until asked again. */
  | { readonly type: 'disconnect' }
  /** The dial loop subscribed to an attempt. */
  | { readonly type: 'dial-started' }
  /** The dial loop set when its first attempt after a drop starts. */
  | { readonly type: 'dial-scheduled'; readonly nextDialAt: number }
  /** An attempt failed; the next one starts at `nextDialAt`. */
  | { readonly type: 'dial-failed'; readonly reason: string; readonly nextDialAt: number }
  /** The dial loop stopped: the peer refused on purpose, or the attempts ran out. */
  | { readonly type: 'gave-up'; readonly reason: string; readonly refused: boolean }
  /** A connection to this peer, dialled by either side. `ticket`: a checked fresh address it brought. */
  | { readonly type: 'offered'; readonly connection: PeerConnection; readonly at: number; readonly ticket?: string }
  | { readonly type: 'closed'; readonly connection: PeerConnection; readonly reason: string; readonly at: number }
  | { readonly type: 'sync'; readonly connection: PeerConnection; readonly event: SyncEvent; readonly at: number }
  /** The sync over a connection stopped: completed, or failed with `error`. */
  | { readonly type: 'sync-ended'; readonly connection: PeerConnection; readonly error?: string };

/** The fields of a stored record that change after pairing. */
export type PeerChanges = Partial<Pick<Peer, 'name' | 'ticket' | 'autoConnect'>>;

export type PeerEvent =
  | { readonly type: 'added'; readonly peer: Peer }
  | { readonly type: 'removed'; readonly nodeId: string }
  | { readonly type: 'changed'; readonly nodeId: string; readonly changes: PeerChanges }
  | (LinkEvent & { readonly nodeId: string });

/* ---- reading the state ---- */

export function isLive(link: LinkState): link is Extract<LinkState, { connection: PeerConnection }> {
  return link.mode === 'connected' || link.mode === 'syncing';
}

/** The dial loop runs while this is true. */
export function isTrying(link: LinkState): boolean {
  return link.mode === 'dialing' || link.mode === 'waiting' || (isLive(link) && link.dialPending);
}

export function connectionOf(link: LinkState | undefined): PeerConnection | null {
  return link && isLive(link) ? link.connection : null;
}

export function statusOf(link: LinkState): PeerStatus {
  switch (link.mode) {
    case 'dialing':
      return 'connecting';
    case 'connected':
      return 'connected';
    case 'syncing':
      return 'syncing';
    default:
      return 'disconnected';
  }
}

function samePeerState(a: PeerState, b: PeerState): boolean {
  return a.peer === b.peer && a.status === b.status && a.connection === b.connection && a.lastError === b.lastError && a.syncProgress === b.syncProgress;
}

/**
 * The spec's PeerState of each entry, by node id. Keeps handing out the same
 * object for a peer while what it shows is unchanged (the link may change
 * underneath, a new redial time for one), so `distinctUntilChanged`
 * downstream stays quiet, and reuses it outright for an unchanged entry.
 */
export function peerStateSelector(): (entries: PeerEntries) => ReadonlyMap<string, PeerState> {
  let previous = new Map<string, { readonly entry: PeerEntry; readonly state: PeerState }>();
  return (entries) => {
    const current = new Map<string, { readonly entry: PeerEntry; readonly state: PeerState }>();
    const states = new Map<string, PeerState>();
    for (const [nodeId, entry] of entries) {
      const before = previous.get(nodeId);
      const state = before?.entry === entry ? before.state : derivePeerState(entry, before?.state);
      current.set(nodeId, { entry, state });
      states.set(nodeId, state);
    }
    previous = current;
    return states;
  };
}

function derivePeerState({ peer, link }: PeerEntry, before: PeerState | undefined): PeerState {
  const state: PeerState = {
    peer,
    status: statusOf(link),
    connection: connectionOf(link),
    lastError: link.lastError,
    syncProgress: link.mode === 'syncing' ? link.progress : null,
  };
  return before && samePeerState(before, state) ? before : Object.freeze(state);
}

const views = new WeakMap<PeerState, PeerView>();

/** The public view of a state: no connection. The same object for the same state. */
export function peerViewOf(state: PeerState): PeerView {
  let view = views.get(state);
  if (!view) {
    view = Object.freeze({ peer: state.peer, status: state.status, lastError: state.lastError, syncProgress: state.syncProgress });
    views.set(state, view);
  }
  return view;
}
