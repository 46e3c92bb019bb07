import { constants } from 'node:fs';
import { lstat, mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { VaultPath } from '../sync/ports';
import { FolderError, VaultPathError, errnoOf, hostError } from './vault-folder-errors';

/** Vault Peers' own hidden folder under the root (staging); never a vault path. */
export const STATE_FOLDER = '.vault-peers';
/** Temporary files of atomic writes: `.vault-peers-tmp-<pid>-<random>`, beside their target. */
export const TEMP_PREFIX = '.vault-peers-tmp-';

const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const DIRECTORY = constants.O_DIRECTORY ?? 0;
/**
 * Opening a file to read it: never through a link, and never blocking on a
 * FIFO someone put where a note was (O_NONBLOCK does nothing to regular files).
 */
export const READ_FLAGS = constants.O_RDONLY | NOFOLLOW | (constants.O_NONBLOCK ?? 0);
/** Creating a temporary or staged file: a new name only, never through a link. */
export const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW;
export const OPEN_STAGED_FLAGS = constants.O_RDWR | constants.O_CREAT | NOFOLLOW;

const WINDOWS = process.platform === 'win32';

/**
 * The segments of a vault path, or a `VaultPathError` for a path that could
 * leave the root or reach into Vault Peers' own files. The engine has already
 * refused these; this is the last line, for a hostile peer's paths.
 */
export function vaultSegments(path: VaultPath): string[] {
  if (typeof path !== 'string' || path === '') throw new VaultPathError(String(path), 'it is empty');
  if (path.includes('\0')) throw new VaultPathError(path, 'it contains a NUL byte');
  if (path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path)) throw new VaultPathError(path, 'it is absolute');
  const segments = path.split('/');
  for (const segment of segments) {
    if (segment === '') throw new VaultPathError(path, 'it has an empty segment (a leading, trailing or doubled "/")');
    if (segment === '.' || segment === '..') throw new VaultPathError(path, 'it has a "." or ".." segment');
    // On Windows these are separators or drive/stream markers, so `a\..\..\x` would climb out.
    if (WINDOWS && /[\\:]/.test(segment)) throw new VaultPathError(path, 'it contains "\\" or ":"');
    if (segment.startsWith(TEMP_PREFIX)) throw new VaultPathError(path, "it names one of Vault Peers' temporary files");
  }
  if (segments[0] === STATE_FOLDER) throw new VaultPathError(path, "it is inside Vault Peers' own folder");
  return segments;
}

/**
 * An open folder inside the root. On Linux it is a directory file descriptor
 * and its entries are named through `/proc/self/fd/<fd>/<name>`: the kernel
 * resolves that to the very folder that was opened, whatever has been renamed
 * or swapped for a link since, which is `openat(2)` for Node (which has no
 * `*at` calls). Elsewhere it is a path, checked with `lstat` (see `walk`).
 */
export interface Folder {
  /** A path naming the folder itself (for `readdir`). */
  readonly self: string;
  /** A path naming the entry `name` of this folder; the last component is never followed by the calls we make on it. */
  child(name: string): string;
  /** fsync of the folder: makes a rename or a new name in it durable. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

type Entry = Folder | 'missing' | 'file';

export class FolderWalker {
  private constructor(
    /** The root as an absolute path (a link here is followed once: the person chose it). */
    readonly root: string,
    /** Whether folders are held open and named through /proc/self/fd (Linux), closing the link-swap race. */
    readonly viaFd: boolean,
  ) {}

  static async open(root: string): Promise<FolderWalker> {
    const absolute = resolve(root);
    let info;
    try {
      info = await stat(absolute);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') throw new FolderError(`The synced folder ${absolute} does not exist. Create it, or point Vault Peers at the right folder.`, 'ENOENT');
      throw hostError(error, 'open the synced folder', absolute, absolute);
    }
    if (!info.isDirectory()) throw new FolderError(`The synced folder ${absolute} is a file, not a folder.`, 'ENOTDIR');
    return new FolderWalker(absolute, await procFdWorks(absolute));
  }

  /**
   * Opens the folder at `segments` under the root without following a link
   * at any step. Returns null when a segment is missing or is a file (with
   * `create`, missing folders are made and a file in the way is an error);
   * throws `VaultPathError` when a segment is a symbolic link. `created` is
   * the index of the first segment this call made (to undo), or null.
   *
   * Without /proc (macOS, Windows) each segment is checked with `lstat` and
   * then used by path: a link swapped in for a checked folder in the
   * microseconds between the check and the use is followed. Linux has no
   * such window.
   */
  async walk(segments: readonly string[], display: string, create = false): Promise<{ folder: Folder; created: number | null } | null> {
    let current = await this.openRoot();
    let created: number | null = null;
    try {
      for (let i = 0; i < segments.length; i += 1) {
        const name = segments[i]!;
        let next = await this.openChild(current, name, display);
        if (next === 'missing' && create) {
          try {
            await mkdir(current.child(name));
            await current.sync(); // the new folder's name is durable before anything is put in it
            created ??= i;
          } catch (error) {
            if (errnoOf(error) !== 'EEXIST') throw hostError(error, 'create the folder', segments.slice(0, i + 1).join('/'), this.root);
          }
          next = await this.openChild(current, name, display);
        }
        if (next === 'file' && create) {
          throw new FolderError(`Could not write "${display}" in ${this.root}: "${segments.slice(0, i + 1).join('/')}" is a file where a folder should be. Rename or move that file.`, 'ENOTDIR');
        }
        if (typeof next === 'string') {
          await current.close();
          return null;
        }
        await current.close();
        current = next;
      }
      return { folder: current, created };
    } catch (error) {
      await current.close();
      throw error;
    }
  }

  /** The entry `name` of `parent` as an open folder, or what else it is; a link is refused. */
  async openChild(parent: Folder, name: string, display: string): Promise<Entry> {
    if (!this.viaFd) {
      let info;
      try {
        info = await lstat(parent.child(name));
      } catch (error) {
        if (errnoOf(error) === 'ENOENT') return 'missing';
        throw hostError(error, 'open the folder of', display, this.root);
      }
      if (info.isSymbolicLink()) throw new VaultPathError(display, `"${name}" on the way is a symbolic link`);
      return info.isDirectory() ? pathFolder(parent.child(name)) : 'file';
    }
    try {
      return fdFolder(await open(parent.child(name), constants.O_RDONLY | DIRECTORY | NOFOLLOW));
    } catch (error) {
      const code = errnoOf(error);
      if (code === 'ENOENT') return 'missing';
      if (code !== 'ENOTDIR' && code !== 'ELOOP') throw hostError(error, 'open the folder of', display, this.root);
    }
    const info = await lstat(parent.child(name)).catch(() => null);
    if (info?.isSymbolicLink()) throw new VaultPathError(display, `"${name}" on the way is a symbolic link`);
    return info ? 'file' : 'missing';
  }

  private async openRoot(): Promise<Folder> {
    if (!this.viaFd) return pathFolder(this.root);
    try {
      return fdFolder(await open(this.root, constants.O_RDONLY | DIRECTORY));
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') throw new FolderError(`The synced folder ${this.root} is gone. Put it back, or point Vault Peers at the right folder.`, 'ENOENT');
      throw hostError(error, 'open the synced folder', this.root, this.root);
    }
  }
}

function fdFolder(handle: FileHandle): Folder {
  const self = `/proc/self/fd/${handle.fd}`;
  return {
    self,
    child: (name) => `${self}/${name}`,
    sync: () => handle.sync(),
    close: () => handle.close(),
  };
}

function pathFolder(path: string): Folder {
  return {
    self: path,
    child: (name) => join(path, name),
    async sync() {
      // Windows cannot open a folder to fsync it; NTFS journals the rename anyway.
      if (WINDOWS) return;
      const handle = await open(path, constants.O_RDONLY);
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    },
    close: () => Promise.resolve(),
  };
}

/** Whether /proc/self/fd/<fd> of an open folder names that folder (Linux with /proc mounted). */
async function procFdWorks(root: string): Promise<boolean> {
  if (process.platform !== 'linux') return false;
  let handle: FileHandle | null = null;
  try {
    handle = await open(root, constants.O_RDONLY | DIRECTORY);
    const [viaProc, direct] = await Promise.all([stat(`/proc/self/fd/${handle.fd}`), handle.stat()]);
    return viaProc.ino === direct.ino && viaProc.dev === direct.dev;
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}
