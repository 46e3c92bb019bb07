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
export const NOTE_NOT_UTF8 =
  'the note is no longer valid UTF-8 text (another program wrote other bytes into it); it syncs again once it is saved as UTF-8';
export const NOTE_TOO_BIG =
  'the note grew over 8 MiB, the largest note Vault Peers merges; it syncs again once it is smaller (edits from other devices wait until then), or rename it to another extension to sync it as a whole file';

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
export const REFUSED_SIZE = (path: string): string =>
  `The other device announced ${quotePath(path)} at one size and sent another. Nothing was written; sync with that device stopped.`;
export const REFUSED_TOO_BIG = 'The other device sent a change larger than the limit. Nothing was written; sync with that device stopped.';
export const REFUSED_TOO_MANY_WANTS =
  'The other device asked for more notes at once than this device holds. Nothing was written; sync with that device stopped.';
export const REFUSED_VERSION = (theirs: number, ours: number): string =>
  `The other device speaks sync protocol ${theirs}, this one ${ours}. Update Vault Peers on the older device.`;
export const REFUSED_FOLDER = 'The other device syncs a different folder.';
export const REFUSED_IDENTITY = 'The other device announced an identity that is not the one it connected with.';
export const REFUSED_UNEXPECTED = (what: string): string =>
  `The other device sent ${what} out of order. Sync with that device stopped; it will be retried on the next connection.`;
/** A note of a peer that is over the limit: skipped, the session goes on. */
export const peerNoteTooBig = (path: string): string =>
  `The other device's note ${quotePath(path)} is over 8 MiB, the largest note Vault Peers merges: it is not synced until it is smaller there.`;
/** What the other device said when it stopped syncing with this one. */
export const peerStopped = (reason: string, peer: string): string => `The other device (${peer.slice(0, 8)}) stopped syncing: ${safeRemoteText(reason)}`;

/* ---- local trouble (retried; shown as a peer's or the folder's last error) ---- */

/** The folder's watcher failed for good: syncing stops (shown here, and the reason the session ends). */
export const watchFailed = (error: string): string =>
  `Stopped watching the folder (${error}), so changes made on this device could be missed: syncing stopped. Restart Vault Peers (reload the plugin, or run \`vault-peers run\` again) to sync again.`;
/** What the other device is told when this one stops watching its folder. */
export const WATCH_FAILED_BYE = 'The other device can no longer watch its folder, so it stopped syncing.';
/** A host whose error already names the file says what happened and what to do (the Node folder adapter does): shown as it is. */
export const writeFailed = (path: string, error: string): string =>
  error.includes(quotePath(path)) ? error : `Could not write ${quotePath(path)}: ${error.replace(/\.$/u, '')}. It will be retried; free some space or fix the folder's permissions.`;
