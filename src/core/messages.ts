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
