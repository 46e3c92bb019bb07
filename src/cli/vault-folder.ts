import { lstat, rmdir, unlink } from 'node:fs/promises';
import type { Observable } from 'rxjs';
import type { Expected, FileChange, FileStat, ListOptions, VaultFiles, VaultPath } from '../sync/ports';
import { check, identityOf, lstatPlace, moveNoReplace, openRegular, readAt, swapInNoting, unlinkIfUnchanged, writeTemp, type Place, type Swapped } from './vault-folder-cas';
import { VaultPathError, explained } from './vault-folder-errors';
import { mergeLateWrite } from './vault-folder-late';
import { listFiles, removeLeftovers } from './vault-folder-list';
import { FolderWalker, vaultSegments } from './vault-folder-paths';
import { FolderStaging } from './vault-folder-staging';
import { watchFolder } from './vault-folder-watch';

/**
 * The `VaultFiles` port on a real folder, for the headless peer.
 *
 * - No path leaves the root: `..`, absolute paths, NUL bytes and Vault
 *   Peers' own names are refused (`VaultPathError`) before anything is
 *   touched, and no symbolic link is followed anywhere on the way, for reads
 *   or writes (see `FolderWalker` for how, and for the race left off Linux).
 * - Every write goes to `.vault-peers-tmp-<pid>-<random>` beside its target,
 *   is fsynced, and is swapped in by a compare-and-swap (see
 *   `vault-folder-cas.ts`); the folder is fsynced after. Temporary files of a
 *   killed process are removed by `open`. A replaced file keeps its mode.
 * - Staging lives in `.vault-peers/staging/` under the root (same volume,
 *   so a commit is a rename).
 * - Host failures reject with a `FolderError` naming the file and what to do.
 */
export class NodeVaultFiles implements VaultFiles {
  /** Cleared when the volume turns out to have no hard links (then "absent" is checked with lstat, see vault-folder-cas.ts). */
  private readonly hardLinks = { works: true };
  private readonly staging: FolderStaging;

  private constructor(private readonly walker: FolderWalker) {
    this.staging = new FolderStaging(walker, this.hardLinks, {
      target: (path, create) => this.target(path, create),
      undo: (path, created) => this.undo(path, created, false),
    });
  }

  /** The synced folder, absolute. */
  get root(): string {
    return this.walker.root;
  }

  /** Opens the folder (which must exist) and removes temporary files a killed writer left behind. */
  static async open(root: string): Promise<NodeVaultFiles> {
    const walker = await FolderWalker.open(root);
    await removeLeftovers(walker);
    return new NodeVaultFiles(walker);
  }

  list(options?: ListOptions): Promise<FileStat[]> {
    return explained(() => this.listUnder([], options), 'list', '.', this.root);
  }

  /** Every regular file under the folder `segments` (see `listFiles`). */
  listUnder(segments: readonly string[], options?: ListOptions): Promise<FileStat[]> {
    return listFiles(this.walker, segments, options);
  }

  stat(path: VaultPath): Promise<FileStat | null> {
    return explained(
      () =>
        this.at(path, false, async (place) => {
          // Plain (not bigint) stats, so that mtime is the very number `list` gives.
          const info = await lstat(place.folder.child(place.name)).catch(() => null);
          if (info?.isSymbolicLink()) throw new VaultPathError(path, 'it is a symbolic link');
          return info?.isFile() ? { path, size: info.size, mtime: info.mtimeMs } : null;
        }),
      'read',
      path,
      this.root,
    );
  }

  read(path: VaultPath): Promise<Uint8Array | null> {
    return explained(
      () =>
        this.at(path, false, async (place) => {
          const opened = await openRegular(place);
          if (!opened) return null;
          try {
            const bytes = await opened.handle.readFile();
            return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
          } finally {
            await opened.handle.close();
          }
        }),
      'read',
      path,
      this.root,
    );
  }

  async readRange(path: VaultPath, offset: number, length: number): Promise<Uint8Array | null> {
    checkRange(offset, length);
    return explained(
      () =>
        this.at(path, false, async (place) => {
          const opened = await openRegular(place);
          if (!opened) return null;
          try {
            const available = Math.max(0, Math.min(length, Number(opened.info.size) - offset));
            return await readAt(opened.handle, offset, available);
          } finally {
            await opened.handle.close();
          }
        }),
      'read',
      path,
      this.root,
    );
  }

  writeText(path: VaultPath, text: string, expected: Expected): Promise<boolean> {
    return explained(
      async () => {
        const target = await this.target(path, expected.kind === 'absent');
        if (!target) return false;
        const { place, created } = target;
        try {
          const first = await check(place, expected);
          if (!first.ok) return await this.undo(path, created, false);
          const temp = await writeTemp(place.folder, Buffer.from(text, 'utf8'), first.identity?.mode);
          let late: Buffer | null = null;
          let swapped: Swapped;
          try {
            // Writing and syncing took a while: check again, as late as possible.
            const again = await check(place, expected);
            swapped = again.ok ? await swapInNoting(temp, place, again.identity, this.hardLinks) : { swapped: false, late: () => null };
            if (!swapped.swapped) {
              await unlink(place.folder.child(temp.name));
              return await this.undo(path, created, false);
            }
          } catch (error) {
            await unlink(place.folder.child(temp.name)).catch(() => undefined);
            throw error;
          }
          await place.folder.sync().finally(() => (late = swapped.late()));
          // Another program wrote to the note as it was replaced: its edit is merged back, and the engine reads it as an edit here.
          if (late && expected.kind === 'text') {
            await mergeLateWrite(place, expected.text, late, this.hardLinks);
            return false;
          }
          return true;
        } finally {
          await place.folder.close();
        }
      },
      'write',
      path,
      this.root,
    );
  }

  rename(from: VaultPath, to: VaultPath, expected?: Expected): Promise<boolean> {
    return explained(
      async () => {
        vaultSegments(to); // a bad destination is refused before anything is touched
        const source = await this.target(from, false);
        if (!source) return false;
        try {
          const info = await lstatPlace(source.place);
          if (!info?.isFile()) return false;
          const belief = expected ? await check(source.place, expected) : null;
          if (belief && (!belief.ok || !belief.identity)) return false;
          const identity = belief?.ok && belief.identity ? belief.identity : identityOf(info);
          const destination = await this.target(to, true);
          if (!destination) return false;
          try {
            if (!(await moveNoReplace(source.place, destination.place, identity, this.hardLinks))) return await this.undo(to, destination.created, false);
            await destination.place.folder.sync();
            await source.place.folder.sync();
          } finally {
            await destination.place.folder.close();
          }
        } finally {
          await source.place.folder.close();
        }
        await this.removeEmptyFolders(vaultSegments(from).slice(0, -1), 0);
        return true;
      },
      'move',
      from,
      this.root,
    );
  }

  remove(path: VaultPath, expected: Expected): Promise<boolean> {
    return explained(
      async () => {
        const target = await this.target(path, false);
        if (!target) return expected.kind === 'absent';
        const { place } = target;
        try {
          const belief = await check(place, expected);
          if (!belief.ok) return false;
          if (belief.identity === null) return true;
          if (!unlinkIfUnchanged(place, belief.identity)) return false;
          await place.folder.sync();
        } finally {
          await place.folder.close();
        }
        await this.removeEmptyFolders(vaultSegments(path).slice(0, -1), 0);
        return true;
      },
      'delete',
      path,
      this.root,
    );
  }

  watch(): Observable<FileChange> {
    return watchFolder(this.root, (path) => this.listUnder(path.split('/')));
  }

  stagedLength(key: string): Promise<number> {
    return this.staging.length(key);
  }

  writeStaged(key: string, offset: number, bytes: Uint8Array): Promise<void> {
    return this.staging.write(key, offset, bytes);
  }

  async readStaged(key: string, offset: number, length: number): Promise<Uint8Array> {
    checkRange(offset, length);
    return this.staging.read(key, offset, length);
  }

  commitStaged(key: string, path: VaultPath, expected: Expected): Promise<boolean> {
    return this.staging.commit(key, path, expected);
  }

  discardStaged(key: string): Promise<void> {
    return this.staging.discard(key);
  }

  listStaged(): Promise<string[]> {
    return this.staging.list();
  }

  /* ---- internals ---- */

  /** Opens the parent folder of `path` (creating it with `create`), or null when it is not there. */
  private async target(path: VaultPath, create: boolean): Promise<{ place: Place; created: number | null } | null> {
    const segments = vaultSegments(path);
    const walked = await this.walker.walk(segments.slice(0, -1), path, create);
    if (!walked) return null;
    return { place: { folder: walked.folder, name: segments[segments.length - 1]!, display: path }, created: walked.created };
  }

  private async at<T>(path: VaultPath, create: boolean, use: (place: Place) => Promise<T | null>): Promise<T | null> {
    const target = await this.target(path, create);
    if (!target) return null;
    try {
      return await use(target.place);
    } finally {
      await target.place.folder.close();
    }
  }

  /** Removes the folders a failed write made for `path` (from segment `created` on), then answers `result`. */
  private async undo(path: VaultPath, created: number | null, result: boolean): Promise<boolean> {
    if (created !== null) await this.removeEmptyFolders(vaultSegments(path).slice(0, -1), created);
    return result;
  }

  /** Removes `segments` and its parents while they are empty, down to segment `from` (never the root). */
  private async removeEmptyFolders(segments: readonly string[], from: number): Promise<void> {
    for (let depth = segments.length; depth > from; depth -= 1) {
      const parent = await this.walker.walk(segments.slice(0, depth - 1), segments.join('/')).catch(() => null);
      if (!parent) return;
      try {
        await rmdir(parent.folder.child(segments[depth - 1]!));
        await parent.folder.sync();
      } catch {
        return; // not empty (or already gone, or swapped for a file): leave it
      } finally {
        await parent.folder.close();
      }
    }
  }
}

function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`offset and length must be whole numbers of bytes, not ${offset} and ${length}`);
  }
}
