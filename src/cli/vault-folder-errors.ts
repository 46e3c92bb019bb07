import { VaultPeersError, errorMessage } from '../core/errors';
import { safeRemoteText } from '../core/remote-text';

/**
 * A path the folder adapter will not touch: one that would leave the synced
 * folder (`..`, absolute, a NUL byte, a symbolic link on the way) or that
 * names Vault Peers' own working area. Nothing was read or written.
 */
export class VaultPathError extends VaultPeersError {
  constructor(
    readonly path: string,
    why: string,
  ) {
    super(`Refused the path "${shown(path)}": ${why}. Vault Peers never reads or writes outside the synced folder, and never through a link.`);
  }
}

/**
 * The host refused an operation on a file (a full disk, a permission, a
 * file where a folder should be): the message says which file and what to do.
 */
export class FolderError extends VaultPeersError {
  constructor(
    message: string,
    /** The errno code (`ENOSPC`, `EACCES`...), when the host gave one. */
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** A path (chosen by another device, possibly) made safe to print. */
export function shown(path: string): string {
  return safeRemoteText(path, 300);
}

export function errnoOf(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Turns a Node error into a sentence a person can act on. `what` names the
 * action ("write", "read"), `file` the file or folder, `where` the absolute
 * place it lives (the vault root), shown so the person knows which disk.
 */
export function hostError(error: unknown, what: string, file: string, where: string): Error {
  const code = errnoOf(error);
  // Ours (already worded) and programming errors pass as they are: only the host's failures are reworded.
  if (error instanceof VaultPeersError || (error instanceof Error && code === undefined)) return error;
  return new FolderError(explainHostError(error, `Could not ${what} "${shown(file)}" in ${where}`), code);
}

/** `subject` ("Could not write X in Y"), then why and what to do, for a failure of the host. */
export function explainHostError(error: unknown, subject: string): string {
  switch (errnoOf(error)) {
    case 'ENOSPC':
    case 'EDQUOT':
      return `${subject}: the disk is full (or your quota is used up). Free some space; Vault Peers tries again and nothing was lost.`;
    case 'EACCES':
    case 'EPERM':
      return `${subject}: permission denied. Give the user running Vault Peers read and write access to it (and to its folder), then it tries again.`;
    case 'EROFS':
      return `${subject}: the disk is mounted read-only. Mount it writable, or stop syncing this folder.`;
    case 'EMFILE':
    case 'ENFILE':
      return `${subject}: too many files are open on this computer. Close some programs or raise the limit (ulimit -n); Vault Peers tries again.`;
    case 'ENOTDIR':
    case 'EEXIST':
      return `${subject}: a file is where a folder should be. Rename or move that file.`;
    case 'EISDIR':
      return `${subject}: a folder is where a file should be. Rename or move that folder.`;
    case 'ENAMETOOLONG':
      return `${subject}: the name is too long for this disk. Shorten it on the device that made it.`;
    case 'EIO':
      return `${subject}: the disk reported an input/output error. Check the disk (it may be failing or disconnected).`;
    default:
      // Node appends the syscall and the path it was given, here a /proc/self/fd name that means nothing to a person.
      return `${subject}: ${errorMessage(error).replace(/,\s*\w+\s+'.*$/su, '')}`;
  }
}

/** Runs `operation`, rewording a host failure as `hostError` does. */
export async function explained<T>(operation: () => Promise<T>, what: string, file: string, where: string): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw hostError(error, what, file, where);
  }
}
