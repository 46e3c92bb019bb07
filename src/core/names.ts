import { InvalidPeerUpdateError } from './errors';
import { MAX_NAME_LENGTH, shortId } from './model';
import { safeRemoteText } from './remote-text';

/** What a device is called until someone names it. */
export function defaultName(nodeId: string): string {
  return `Device ${shortId(nodeId)}`;
}

/**
 * A name a person typed for a device, trimmed.
 * @throws InvalidPeerUpdateError when it is empty or too long
 */
export function chosenName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw InvalidPeerUpdateError.emptyName();
  if (trimmed.length > MAX_NAME_LENGTH) throw InvalidPeerUpdateError.nameTooLong(MAX_NAME_LENGTH);
  return trimmed;
}

/** A name another device announced for itself, safe to store and show; empty when unusable. */
export function announcedName(name: string | undefined): string {
  let chars = [...safeRemoteText(name, MAX_NAME_LENGTH)];
  // Stored names are checked in UTF-16 units (as `chosenName` counts them); cut whole characters until it fits.
  while (chars.join('').length > MAX_NAME_LENGTH) chars = chars.slice(0, -1);
  return chars.join('').trimEnd();
}
