/**
 * Text another device chose, as both shells show it: a device name or a
 * reason read from the network passes through here before it reaches a
 * terminal, a view or a notice (see safeRemoteText for what is removed).
 */
import { MAX_NAME_LENGTH, shortId } from '../core/model';
import { safeRemoteText } from '../core/remote-text';

/** The longest reason shown, in characters: the ones this project writes are far shorter. */
const MAX_SHOWN_REASON = 300;

/** A device's name fit to show; its short id when nothing printable is left. */
export function shownName(name: unknown, nodeId = ''): string {
  return safeRemoteText(name, MAX_NAME_LENGTH) || (nodeId ? `Device ${shortId(nodeId)}` : 'A device');
}

/** A reason or an error message that may carry text from another device. */
export function shownReason(text: unknown): string {
  return safeRemoteText(text, MAX_SHOWN_REASON);
}
