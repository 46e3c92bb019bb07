import { REASON_DISCONNECTED, REASON_REMOVED_BY_PEER, syncFailed } from '../messages';
import type { Peer } from '../model';
import type { PeerConnection } from '../ports';
import { isLive, type LinkEvent, type LinkState, type PeerChanges, type PeerEntries, type PeerEntry, type PeerEvent } from './link-state';
import { preferredConnection, winningDirection } from './tie-break';

/** The few facts the reducer needs besides the state and the event. */
export interface LinkRules {
  /** This device's node id, for the tie-break between two connections. */
  readonly localNodeId: string;
  /** A connection that drops sooner than this after opening counts as unstable (the peer flaps). */
  readonly stableAfterMs: number;
}

/**
 * The peers' state machine: `(entries, event) => entries`, pure. Returns the
 * same map when nothing changed, so the store emits nothing.
 */
export function peerReducer(rules: LinkRules): (entries: PeerEntries, event: PeerEvent) => PeerEntries {
  return (entries, event) => {
    if (event.type === 'added') {
      if (entries.has(event.peer.nodeId)) return entries;
      return new Map(entries).set(event.peer.nodeId, { peer: event.peer, link: { mode: 'idle', lastError: null, unstableDrops: 0 } });
    }
    const entry = entries.get(event.nodeId);
    if (!entry) return entries;
    if (event.type === 'removed') {
      const next = new Map(entries);
      next.delete(event.nodeId);
      return next;
    }
    const changed = event.type === 'changed' ? changeRecord(entry, event.changes) : reduceLink(entry, event, rules);
    return changed === entry ? entries : new Map(entries).set(event.nodeId, changed);
  };
}

function changeRecord(entry: PeerEntry, changes: PeerChanges): PeerEntry {
  const keys = Object.keys(changes) as (keyof PeerChanges)[];
  if (keys.every((key) => changes[key] === undefined || entry.peer[key] === changes[key])) return entry;
  const peer: Peer = Object.freeze({ ...entry.peer, ...definedOnly(changes) });
  let { link } = entry;
  if (changes.autoConnect === true && !entry.peer.autoConnect) link = connect(link, true);
  // Auto-connect off stops redialling; a live connection stays until it ends.
  if (changes.autoConnect === false && (link.mode === 'dialing' || link.mode === 'waiting')) {
    link = { mode: 'idle', lastError: link.lastError, unstableDrops: link.unstableDrops };
  }
  return { peer, link };
}

function definedOnly(changes: PeerChanges): PeerChanges {
  return Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
}

/** One peer's link event. */
export function reduceLink(entry: PeerEntry, event: LinkEvent, rules: LinkRules): PeerEntry {
  const { link } = entry;
  const next = nextLink(entry, event, rules);
  if (event.type === 'sync' && event.event.type === 'finished' && isLive(link) && link.connection === event.connection) {
    const peer: Peer = Object.freeze({ ...entry.peer, lastSyncAt: new Date(event.at).toISOString() });
    return { peer, link: next };
  }
  if (event.type === 'offered' && event.ticket !== undefined && next !== link && isLive(next) && next.connection === event.connection) {
    return { peer: event.ticket === entry.peer.ticket ? entry.peer : Object.freeze({ ...entry.peer, ticket: event.ticket }), link: next };
  }
  return next === link ? entry : { peer: entry.peer, link: next };
}

function connect(link: LinkState, urgent: boolean): LinkState {
  const { lastError, unstableDrops } = link;
  switch (link.mode) {
    case 'idle':
    case 'refused':
      return { mode: 'dialing', attempt: 1, urgent, droppedAt: null, lastError, unstableDrops };
    case 'paused':
      return { mode: 'dialing', attempt: 1, urgent, droppedAt: null, lastError: null, unstableDrops };
    case 'waiting':
      return { mode: 'dialing', attempt: link.attempt, urgent, droppedAt: link.droppedAt, lastError, unstableDrops };
    case 'dialing':
      return urgent && !link.urgent ? { ...link, urgent } : link;
    default:
      return link;
  }
}

function nextLink(entry: PeerEntry, event: LinkEvent, rules: LinkRules): LinkState {
  const { link } = entry;
  switch (event.type) {
    case 'connect':
      return connect(link, event.urgent);
    case 'disconnect':
      return link.mode === 'paused' ? link : { mode: 'paused', lastError: null, unstableDrops: link.unstableDrops };
    case 'dial-started':
      return link.mode === 'waiting' ? { ...withoutWait(link), mode: 'dialing', urgent: false } : link;
    case 'dial-scheduled':
      return link.mode === 'waiting' && link.nextDialAt !== event.nextDialAt ? { ...link, nextDialAt: event.nextDialAt } : link;
    case 'dial-failed':
      if (link.mode === 'dialing') {
        const { urgent: _urgent, ...rest } = link;
        return { ...rest, mode: 'waiting', attempt: link.attempt + 1, nextDialAt: event.nextDialAt, lastError: event.reason };
      }
      return isLive(link) && link.dialPending ? { ...link, dialPending: false } : link;
    case 'gave-up':
      if (link.mode === 'dialing' || link.mode === 'waiting') {
        return { mode: event.refused ? 'refused' : 'idle', lastError: event.reason, unstableDrops: link.unstableDrops };
      }
      return isLive(link) && link.dialPending ? { ...link, dialPending: false } : link;
    case 'offered':
      return offered(entry, event.connection, event.at, rules);
    case 'closed':
      return closed(entry, event.connection, event.reason, event.at, rules);
    case 'sync':
      return synced(link, event);
    case 'sync-ended':
      if (!isLive(link) || link.connection !== event.connection) return link;
      if (event.error !== undefined) return { ...liveBase(link), mode: 'connected', lastError: syncFailed(event.error) };
      return link.mode === 'syncing' ? { ...liveBase(link), mode: 'connected' } : link;
  }
}

function withoutWait(link: Extract<LinkState, { mode: 'waiting' }>): Omit<typeof link, 'nextDialAt' | 'mode'> {
  const { nextDialAt: _next, mode: _mode, ...rest } = link;
  return rest;
}

function liveBase(link: Extract<LinkState, { connection: unknown }>) {
  const { connection, since, dialPending, lastError, unstableDrops } = link;
  return { connection, since, dialPending, lastError, unstableDrops };
}

function offered(entry: PeerEntry, connection: PeerConnection, at: number, rules: LinkRules): LinkState {
  const { link } = entry;
  // A paused peer's own dials are turned away; the caller closes what was not adopted.
  if (link.mode === 'paused') return link;
  if (isLive(link) && preferredConnection(rules.localNodeId, link.connection, connection) === 'existing') return link;
  // An incoming connection while our dial is under way: if our dial wins the
  // tie-break, the peer will keep it, so let it land rather than cancel it.
  const dialPending =
    connection.direction === 'incoming' &&
    ((link.mode === 'dialing' && winningDirection(rules.localNodeId, entry.peer.nodeId) === 'outgoing') || (isLive(link) && link.dialPending));
  return { mode: 'connected', connection, since: at, dialPending, lastError: null, unstableDrops: link.unstableDrops };
}

function closed(entry: PeerEntry, connection: PeerConnection, reason: string, at: number, rules: LinkRules): LinkState {
  const { link } = entry;
  if (!isLive(link) || link.connection !== connection) return link;
  const lastError = reason || REASON_DISCONNECTED;
  // No point redialling a device that unpaired us: it would refuse every dial.
  if (reason === REASON_REMOVED_BY_PEER) return { mode: 'refused', lastError, unstableDrops: 0 };
  const stable = at - link.since >= rules.stableAfterMs;
  const unstableDrops = stable ? 0 : link.unstableDrops + 1;
  const droppedAt = stable ? at : null;
  if (link.dialPending) return { mode: 'dialing', attempt: 1, urgent: false, droppedAt, lastError, unstableDrops };
  if (!entry.peer.autoConnect) return { mode: 'idle', lastError, unstableDrops };
  return { mode: 'waiting', attempt: 1, nextDialAt: at, droppedAt, lastError, unstableDrops };
}

function synced(link: LinkState, event: Extract<LinkEvent, { type: 'sync' }>): LinkState {
  if (!isLive(link) || link.connection !== event.connection) return link;
  switch (event.event.type) {
    case 'started':
      return link.mode === 'syncing' ? link : { ...liveBase(link), mode: 'syncing', progress: null };
    case 'progress': {
      const { files, bytes } = event.event;
      return { ...liveBase(link), mode: 'syncing', progress: Object.freeze({ files, bytes }) };
    }
    case 'finished':
      return link.mode === 'syncing' ? { ...liveBase(link), mode: 'connected' } : link;
    default:
      return link;
  }
}
