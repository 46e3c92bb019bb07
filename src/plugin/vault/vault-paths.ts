import { VaultPeersError, errorMessage } from '../../core/errors';
import { safeRemoteText } from '../../core/remote-text';
import type { VaultPath } from '../../sync';

/**
 * Checks on the paths the engine hands the Obsidian adapter. The engine has
 * already refused every unsafe path a peer sent; these checks are the
 * adapter's own last line, so that no bug anywhere can make it touch a file
 * outside the vault or inside a hidden folder (the config folder holds the
 * code of every installed plugin).
 */

export class VaultPathError extends VaultPeersError {}

/** A path made safe to show (it may come from another device). */
export function shownPath(path: string): string {
  return safeRemoteText(path, 300);
}

/**
 * Throws unless `path` is a vault-relative file path: `/`-separated, not
 * empty, no `.`, `..` or empty segment, no leading slash, drive or NUL.
 */
export function checkPath(path: VaultPath): void {
  const bad =
    path === '' ||
    path.includes('\u0000') ||
    path.includes('\\') ||
    path.startsWith('/') ||
    /^[a-zA-Z]:/u.test(path) ||
    path.split('/').some((name) => name === '' || name === '.' || name === '..');
  if (bad) throw new VaultPathError(`Vault Peers refused the path "${shownPath(path)}": it is not a file path inside the vault.`);
}

/** Throws for a path the adapter may read but never write: one under a hidden (dot) folder or a hidden file. */
export function checkWritable(path: VaultPath): void {
  checkPath(path);
  if (path.split('/').some((name) => name.startsWith('.'))) {
    throw new VaultPathError(`Vault Peers refused to write "${shownPath(path)}": hidden files and folders (the config folder among them) are never synced.`);
  }
}

export function parentOf(path: VaultPath): VaultPath {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/** Every folder above a path, outermost first: `a/b/c.md` gives `a`, `a/b`. */
export function foldersAbove(path: VaultPath): VaultPath[] {
  const names = path.split('/');
  return names.slice(1).map((_, i) => names.slice(0, i + 1).join('/'));
}

/**
 * A failure of the computer (a full disk, a permission) as a sentence a
 * person can act on. The engine shows it and tries again later.
 */
export function hostFailure(what: string, path: VaultPath, error: unknown): Error {
  if (error instanceof VaultPeersError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const subject = `Vault Peers could not ${what} "${shownPath(path)}"`;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new VaultPeersError(`${subject}: the disk is full. Free some space; Vault Peers tries again and nothing was lost.`);
    case 'EACCES':
    case 'EPERM':
      return new VaultPeersError(`${subject}: permission denied. Check that you may write to the vault's folder; Vault Peers tries again.`);
    case 'EROFS':
      return new VaultPeersError(`${subject}: the disk is read-only. Vault Peers tries again once it can write.`);
    default:
      return new VaultPeersError(`${subject}: ${errorMessage(error)}`);
  }
}
