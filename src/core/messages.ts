/**
 * Reasons a person reads: sent to the other device when a connection is
 * closed or refused, shown as a peer's last error, printed by the CLI. One
 * wording for one situation, whichever device or layer says it.
 */

/* ---- refusals (the dialling device stops redialling) ---- */

/** A device that is not (or no longer) paired with the one it dialled. */
export const REASON_NOT_PAIRED = 'This device is not paired with the one it tried to reach.';
export const REASON_AWAITING_APPROVAL = 'Waiting for approval on the other device.';
export const REASON_PAUSED = 'The other device has paused the connection with you.';
export const REASON_REMOVED = 'The other device removed you.';
/** What a connection's closed$ says when the remote device removed this one. */
export const REASON_REMOVED_BY_PEER = 'Removed by the other device. To sync again, pair with a fresh invite.';

export const REFUSED_UNKNOWN_INVITE =
  'This invite is not valid on the other device: it was never issued there, or that device restarted since. Ask for a new one.';
export const REFUSED_USED_INVITE = 'This invite was already used. Ask the other device for a new one.';
export const REFUSED_EXPIRED_INVITE = 'This invite has expired. Ask the other device for a new one.';
export const REFUSED_CANCELLED_INVITE = 'This invite was cancelled on the other device.';

/* ---- ordinary ends of a connection ---- */

export const REASON_DISCONNECTED = 'The other device disconnected.';
/** Sent to peers when this device shuts down (they read it). */
export const REASON_SHUTTING_DOWN = 'The other device is shutting down.';
export const REASON_DUPLICATE = 'A connection to this device is already open.';
export const REASON_REPLACED = 'Replaced by a newer connection.';

/* ---- a dial or a pairing that reached the wrong device ---- */

/** Sent to a device that answered a dial on a stored ticket but is not the device it was saved for. */
export const REASON_NOT_THIS_TICKETS_DEVICE = 'You are not the device this ticket was saved for.';
/** Sent to a device that answered an invite's address but is not the device that made the invite. */
export const REASON_NOT_THIS_INVITES_DEVICE = 'You are not the device this invite came from.';
/** Sent to a joining device when the pairing could not be stored here. */
export const REASON_PAIRING_NOT_SAVED = 'The other device could not save the pairing.';

/** A peer's last error after its stored ticket led somewhere else. */
export const TICKET_LEADS_ELSEWHERE = 'The stored ticket now leads to a different device. Pair this device again.';
export const INVITE_LEADS_ELSEWHERE = 'The invite led to a different device than the one that made it. Ask for a new invite.';
export const OWN_INVITE = "This is this device's own invite. Use it on the other device.";

/** A peer's last error after its sync stopped with an error (the connection stays). */
export function syncFailed(reason: string): string {
  return `Sync failed: ${reason}`;
}
/* ---- the network layer (src/transport) ---- */

/** A connection whose other end went silent (killed, frozen, or cut off). */
export function reasonStoppedAnswering(silentMs: number): string {
  return `The other device stopped answering (nothing heard for ${(silentMs / 1000).toFixed(1)} s).`;
}
export const REASON_NO_ANSWER = 'The device did not answer.';
export const REASON_NOT_ACCEPTED_IN_TIME = 'The other device did not accept the connection in time.';
/** What a dialling device reads when the other turned it away before its handshake. */
export const REASON_BUSY =
  'The other device is turning new connections away for a moment (too many unknown devices tried to connect). Try again in a minute.';
/** Logged for a connection turned away before its handshake, so of unknown identity. */
export const REASON_TURNED_AWAY_UNSEEN = 'Turned away before its handshake: too many connection attempts from unknown devices.';
