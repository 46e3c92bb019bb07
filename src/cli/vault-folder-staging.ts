import { constants } from 'node:fs';
import { open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import type { Expected, VaultPath } from '../sync/ports';
import { check, copyToTemp, lstatPlace, openRegular, readAt, swapIn, type Place } from './vault-folder-cas';
import { FolderError, VaultPathError, errnoOf, explained, shown } from './vault-folder-errors';
import { OPEN_STAGED_FLAGS, STATE_FOLDER, type Folder, type FolderWalker } from './vault-folder-paths';

const STAGING = [STATE_FOLDER, 'staging'];
const STAGING_DISPLAY = STAGING.join('/');
/** Keys are the engine's content hashes; anything that could be a path is refused. */
const KEY = /^[A-Za-z0-9_-]{1,128}$/;

interface StagingHost {
  /** The parent folder of a vault path, opened (made with `create`). */
  target(path: VaultPath, create: boolean): Promise<{ place: Place; created: number | null } | null>;
  /** Removes folders a failed commit made; resolves false. */
  undo(path: VaultPath, created: number | null): Promise<boolean>;
}

/**
 * Staged files in `.vault-peers/staging/<key>` under the root: a transfer
 * writes into one chunk by chunk and resumes from its length after a restart.
 * Writes are not fsynced one by one: a `kill -9` loses nothing the kernel
 * already has, and the engine verifies a staged file against its hash before
 * committing. The commit fsyncs it, then swaps it in like any write.
 */
export class FolderStaging {
  constructor(
    private readonly walker: FolderWalker,
    private readonly hardLinks: { works: boolean },
    private readonly host: StagingHost,
  ) {}

  length(key: string): Promise<number> {
    return this.in(key, false, 'read', async (place) => {
      const info = await lstatPlace(place);
      return info?.isFile() ? Number(info.size) : 0;
    }).then((length) => length ?? 0);
  }

  async write(key: string, offset: number, bytes: Uint8Array): Promise<void> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`offset must be a whole number of bytes, not ${offset}`);
    await this.in(key, true, 'write', async (place) => {
      let handle = await this.openStaged(place);
      try {
        let info = await handle.stat();
        if (!info.isFile()) throw new FolderError(`${STAGING_DISPLAY}/${shown(key)} in ${this.walker.root} is not a file. Remove it.`, 'EISDIR');
        if (info.nlink > 1) {
          // A commit was killed between linking this file into the vault and unlinking it here: it *is* that
          // vault file now. Writing through it would change the file in the vault, so it gets a copy of its own.
          await handle.close();
          const copy = await copyToTemp(place, place.folder);
          await rename(place.folder.child(copy.name), place.folder.child(place.name));
          handle = await this.openStaged(place);
          info = await handle.stat();
        }
        if (offset > info.size) throw new RangeError(`Cannot write at byte ${offset} of the file staged as ${key}: it holds only ${info.size} bytes.`);
        if (info.size > offset) await handle.truncate(offset);
        let written = 0;
        while (written < bytes.length) {
          const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, offset + written);
          written += bytesWritten;
        }
      } finally {
        await handle.close();
      }
      return true;
    });
  }

  private openStaged(place: Place): Promise<FileHandle> {
    return open(place.folder.child(place.name), OPEN_STAGED_FLAGS, 0o666).catch((error: unknown) => {
      if (errnoOf(error) === 'ELOOP') throw new VaultPathError(place.display, 'it is a symbolic link');
      throw error;
    });
  }

  read(key: string, offset: number, length: number): Promise<Uint8Array> {
    return this.in(key, false, 'read', async (place) => {
      const opened = await openRegular(place);
      if (!opened) return null;
      try {
        return await readAt(opened.handle, offset, Math.max(0, Math.min(length, Number(opened.info.size) - offset)));
      } finally {
        await opened.handle.close();
      }
    }).then((bytes) => bytes ?? new Uint8Array(0));
  }

  async commit(key: string, path: VaultPath, expected: Expected): Promise<boolean> {
    const committed = await this.in(key, false, 'move into place', async (source) => {
      const info = await lstatPlace(source);
      if (!info?.isFile()) throw new FolderError(`Nothing is staged as ${shown(key)} in ${this.walker.root}: the transfer has to start again.`, 'ENOENT');
      return explained(() => this.swap(source, path, expected), 'write', path, this.walker.root);
    });
    if (committed === null) throw new FolderError(`Nothing is staged as ${shown(key)} in ${this.walker.root}: the transfer has to start again.`, 'ENOENT');
    return committed;
  }

  private async swap(source: Place, path: VaultPath, expected: Expected): Promise<boolean> {
    const target = await this.host.target(path, expected.kind === 'absent');
    if (!target) return false;
    const { place, created } = target;
    try {
      const first = await check(place, expected);
      if (!first.ok) return await this.host.undo(path, created);
      // Through a descriptor opened without following links: a link swapped in for the staged file is never chmod'ed.
      const handle = await open(source.folder.child(source.name), constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
      try {
        if (first.identity) await handle.chmod(first.identity.mode);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      const again = await check(place, expected);
      if (!again.ok) return await this.host.undo(path, created);
      let swapped: boolean;
      try {
        swapped = await swapIn(source, place, again.identity, this.hardLinks);
      } catch (error) {
        if (errnoOf(error) !== 'EXDEV') throw error;
        swapped = await this.acrossVolumes(source, place, expected, first.identity?.mode);
      }
      if (!swapped) return await this.host.undo(path, created);
      await place.folder.sync();
      await source.folder.sync();
      return true;
    } finally {
      await place.folder.close();
    }
  }

  /** The target is on another volume than the staging folder (a disk mounted inside the vault): copy beside it, then swap. */
  private async acrossVolumes(source: Place, place: Place, expected: Expected, mode: number | undefined): Promise<boolean> {
    const temp = await copyToTemp(source, place.folder, mode);
    const again = await check(place, expected).catch(async (error: unknown) => {
      await unlink(place.folder.child(temp.name)).catch(() => undefined);
      throw error;
    });
    if (!again.ok || !(await swapIn(temp, place, again.identity, this.hardLinks))) {
      await unlink(place.folder.child(temp.name)).catch(() => undefined);
      return false;
    }
    await unlink(source.folder.child(source.name));
    return true;
  }

  async discard(key: string): Promise<void> {
    await this.in(key, false, 'delete', async (place) => {
      await unlink(place.folder.child(place.name)).catch((error: unknown) => {
        if (errnoOf(error) !== 'ENOENT') throw error;
      });
      return true;
    });
  }

  async list(): Promise<string[]> {
    const keys = await explained(
      async () => {
        const walked = await this.walker.walk(STAGING, STAGING_DISPLAY);
        if (!walked) return [];
        try {
          const entries = await readdir(walked.folder.self, { withFileTypes: true });
          return entries.filter((entry) => entry.isFile() && KEY.test(entry.name)).map((entry) => entry.name);
        } finally {
          await walked.folder.close();
        }
      },
      'list',
      STAGING_DISPLAY,
      this.walker.root,
    );
    return keys.sort();
  }

  /** Runs `use` on the staged file `key` (its folder made with `create`); null when the staging folder is not there. */
  private async in<T>(key: string, create: boolean, what: string, use: (place: Place) => Promise<T | null>): Promise<T | null> {
    if (typeof key !== 'string' || !KEY.test(key)) throw new VaultPathError(`${STAGING_DISPLAY}/${String(key)}`, 'a staging key is letters, digits, "-" and "_" only');
    const display = `${STAGING_DISPLAY}/${key}`;
    return explained(
      async () => {
        const walked = await this.walker.walk(STAGING, display, create);
        if (!walked) return null;
        const folder: Folder = walked.folder;
        try {
          return await use({ folder, name: key, display });
        } finally {
          await folder.close();
        }
      },
      what,
      display,
      this.walker.root,
    );
  }
}

