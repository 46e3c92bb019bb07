import { safeRemoteText } from '../core/remote-text';

/**
 * Reasons a person reads about sync: sent to the other device when a sync is
 * refused, shown as a peer's last error, listed beside a file that is not
 * synced. One wording per situation (like src/core/messages.ts, which holds
 * the connection-level ones).
 */

/** A path quoted safely for a message: another device chose it. */
export const quotePath = (path: string): string => `"${safeRemoteText(path, 120)}"`;

/* ---- why a path is never synced (local files are listed with these; a peer sending one is refused) ---- */

export const PATH_EMPTY = 'the name is empty';
export const PATH_TOO_LONG = 'the path is too long (over 1,024 characters, or a name over 255)';
export const PATH_ABSOLUTE = 'it is an absolute path, outside the synced folder';
export const PATH_ESCAPES = 'it leaves the synced folder (a "." or ".." in the path, or an empty folder name)';
export const PATH_NUL = 'it contains a NUL byte';
export const PATH_CONTROL = 'it contains a control character';
export const PATH_BACKSLASH = 'it contains a backslash, which Windows reads as a folder separator';
export const PATH_WINDOWS_CHAR = 'it contains one of < > : " | ? *, which Windows cannot store';
export const PATH_TRAILING = 'a name ends with a dot or a space, which Windows drops';
export const PATH_RESERVED = 'it uses a name Windows reserves (CON, PRN, AUX, NUL, COM1-9, LPT1-9)';
export const PATH_HIDDEN = 'hidden files and folders (names starting with ".") are never synced';
export const PATH_SYNCTHING = "Syncthing's temporary files are never synced";
export const PATH_CONFIG = "the config folder is never synced: each device keeps its own";
export const PATH_CASE = (other: string): string => `it differs only in case from ${quotePath(other)}, which another device could not tell apart`;

/** A file that stays on this device. */
export const notSynced = (path: string, why: string): string => `Not synced: ${quotePath(path)}: ${why}.`;

/* ---- refusals of a peer (the session ends; nothing from that message is written) ---- */

export const refusedPath = (path: string, why: string): string =>
  `Refused a file from the other device, ${quotePath(path)}: ${why}. Nothing was written; sync with that device stopped.`;
export const REFUSED_FRAME = 'The other device sent sync data that could not be read. Nothing was written; sync with that device stopped.';
export const REFUSED_UPDATE = (path: string): string =>
  `The other device sent a damaged change to ${quotePath(path)}. Nothing was written; sync with that device stopped.`;
export const REFUSED_CHUNK = (path: string): string =>
  `The other device sent data for ${quotePath(path)} that does not match its checksum. Nothing was written; sync with that device stopped.`;
export const REFUSED_TOO_BIG = 'The other device sent a change larger than the limit. Nothing was written; sync with that device stopped.';
export const REFUSED_VERSION = (theirs: number, ours: number): string =>
  `The other device speaks sync protocol ${theirs}, this one ${ours}. Update Vault Peers on the older device.`;
export const REFUSED_FOLDER = 'The other device syncs a different folder.';
export const REFUSED_IDENTITY = 'The other device announced an identity that is not the one it connected with.';
export const REFUSED_UNEXPECTED = (what: string): string =>
  `The other device sent ${what} out of order. Sync with that device stopped; it will be retried on the next connection.`;
/** What the other device said when it stopped syncing with this one. */
export const peerStopped = (reason: string): string => `The other device stopped syncing: ${safeRemoteText(reason)}`;

/* ---- local trouble (retried; shown as a peer's or the folder's last error) ---- */

export const writeFailed = (path: string, error: string): string =>
  `Could not write ${quotePath(path)}: ${error}. It will be retried; free some space or fix the folder's permissions.`;
