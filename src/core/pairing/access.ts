import type { BlockedDevice, PendingRequest } from '../model';
import type { UnknownDevicePolicy } from '../ports';

/** Who may reach this device besides its paired peers: the pairing module's slice of state. */
export interface AccessState {
  readonly policy: UnknownDevicePolicy;
  /** Devices that asked to pair under `ask`, oldest first. */
  readonly pending: readonly PendingRequest[];
  readonly blocked: readonly BlockedDevice[];
  /** When each pending device's request was last taken (scheduler time), to bound how often one device may ask. Not stored. */
  readonly lastAsked: ReadonlyMap<string, number>;
}

/** A hostile device could fill the list with made-up ids; past this many, new requests push out old ones. */
export const MAX_PENDING_REQUESTS = 50;
/** A device that asks again sooner than this is told to wait, and nothing changes. */
export const REQUEST_REPEAT_MS = 60_000;

export function isBlocked(state: AccessState, nodeId: string): boolean {
  return state.blocked.some((device) => device.nodeId === nodeId);
}

/** What the gate knows about a node that wants to connect. */
export interface Knock {
  readonly paired: boolean;
  readonly blocked: boolean;
  /** It presented a secret the invite book recognises (open, or ended recently so it can hear why not). */
  readonly bringsKnownInvite: boolean;
  readonly policy: UnknownDevicePolicy;
}

/**
 * Whether a node may go on past the handshake and hear anything about this
 * device. Paired devices yes; blocked devices never; a stranger only with a
 * recognised invite, or when the policy is `ask` (it is then told to wait).
 */
export function mayConnect(knock: Knock): boolean {
  if (knock.paired) return true;
  if (knock.blocked) return false;
  return knock.bringsKnownInvite || knock.policy === 'ask';
}

export type RequestOutcome = 'listed' | 'refreshed' | 'too-soon';

/**
 * A stranger asked to pair. A new request is listed; when the list is full it
 * pushes out the oldest request a person has not seen yet (or the oldest of
 * all when every one was seen), so a flood of strangers cannot stop new
 * requests from being seen. A device that asks again is refreshed (name,
 * address) at most once per REQUEST_REPEAT_MS, keeping its place.
 */
export function withRequest(
  state: AccessState,
  request: Omit<PendingRequest, 'requestedAt' | 'seen'>,
  now: number,
  requestedAt: string,
): { readonly state: AccessState; readonly outcome: RequestOutcome } {
  const existing = state.pending.find((r) => r.nodeId === request.nodeId);
  const lastAsked = new Map(state.lastAsked);
  if (existing) {
    if (now - (state.lastAsked.get(request.nodeId) ?? Number.NEGATIVE_INFINITY) < REQUEST_REPEAT_MS) return { state, outcome: 'too-soon' };
    const refreshed: PendingRequest = Object.freeze({ ...existing, name: request.name, ticket: request.ticket });
    lastAsked.set(request.nodeId, now);
    const pending = state.pending.map((r) => (r === existing ? refreshed : r));
    return { state: { ...state, pending, lastAsked }, outcome: 'refreshed' };
  }
  let pending = state.pending;
  if (pending.length >= MAX_PENDING_REQUESTS) {
    const evicted = pending.find((r) => !r.seen) ?? pending[0];
    pending = pending.filter((r) => r !== evicted);
    if (evicted) lastAsked.delete(evicted.nodeId);
  }
  lastAsked.set(request.nodeId, now);
  const listed: PendingRequest = Object.freeze({ ...request, requestedAt, seen: false });
  return { state: { ...state, pending: [...pending, listed], lastAsked }, outcome: 'listed' };
}

export function withoutRequest(state: AccessState, nodeId: string): AccessState {
  if (!state.pending.some((r) => r.nodeId === nodeId)) return state;
  const lastAsked = new Map(state.lastAsked);
  lastAsked.delete(nodeId);
  return { ...state, pending: state.pending.filter((r) => r.nodeId !== nodeId), lastAsked };
}

/** Marks requests as seen by a person (all, or the given devices'). */
export function withRequestsSeen(state: AccessState, nodeIds?: readonly string[]): AccessState {
  const shown = (r: PendingRequest): boolean => !r.seen && (nodeIds === undefined || nodeIds.includes(r.nodeId));
  if (!state.pending.some(shown)) return state;
  return { ...state, pending: state.pending.map((r) => (shown(r) ? Object.freeze({ ...r, seen: true }) : r)) };
}

export function withBlocked(state: AccessState, device: BlockedDevice): AccessState {
  const unlisted = withoutRequest(state, device.nodeId);
  if (isBlocked(unlisted, device.nodeId)) return unlisted;
  return { ...unlisted, blocked: [...unlisted.blocked, Object.freeze(device)] };
}

export function withoutBlocked(state: AccessState, nodeId: string): AccessState {
  if (!isBlocked(state, nodeId)) return state;
  return { ...state, blocked: state.blocked.filter((b) => b.nodeId !== nodeId) };
}

/** A blocked device was turned away once more. */
export function withRefusalCounted(state: AccessState, nodeId: string): AccessState {
  if (!isBlocked(state, nodeId)) return state;
  return {
    ...state,
    blocked: state.blocked.map((b) => (b.nodeId === nodeId ? Object.freeze({ ...b, refusals: b.refusals + 1 }) : b)),
  };
}
