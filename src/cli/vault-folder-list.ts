import { lstatSync, type Stats } from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import type { FileStat, ListOptions } from '../sync/ports';
import { VaultPathError, errnoOf } from './vault-folder-errors';
import { STATE_FOLDER, TEMP_PREFIX, type Folder, type FolderWalker } from './vault-folder-paths';

/**
 * Every regular file under the folder `segments` (all of the root for []),
 * walked through open folders so that no link is followed (see
 * `FolderWalker`). Links, Vault Peers' own files and folder, and names that
 * are not valid UTF-8 (which no vault path can name) are left out; a folder
 * that is a link or is gone yields nothing.
 */
export async function listFiles(walker: FolderWalker, segments: readonly string[], options?: ListOptions): Promise<FileStat[]> {
  const out: FileStat[] = [];
  const walked = await walker.walk(segments, segments.join('/')).catch((error: unknown) => {
    if (error instanceof VaultPathError) return null;
    throw error;
  });
  if (!walked) return out;
  try {
    await collect(walker, walked.folder, segments.join('/'), options, out);
  } finally {
    await walked.folder.close();
  }
  return out;
}

/** Files stat'ed between two turns of the event loop while listing. */
const STAT_SLICE = 256;

async function collect(walker: FolderWalker, folder: Folder, prefix: string, options: ListOptions | undefined, out: FileStat[]): Promise<void> {
  const entries = await readdir(folder.self, { withFileTypes: true }).catch((error: unknown) => {
    // Removed while we walked: its files are gone from here, and the watcher reports it.
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return [];
    throw error;
  });
  const folders: string[] = [];
  for (let i = 0; i < entries.length; i += 1) {
    // lstat is a few microseconds here, but tens through the thread pool's promises: run it inline, and let
    // other work in now and then so that a folder of 10,000 files does not hold the event loop.
    if (i % STAT_SLICE === STAT_SLICE - 1) await new Promise((resolve) => setImmediate(resolve));
    const entry = entries[i]!;
    const name = entry.name;
    if (name.startsWith(TEMP_PREFIX) || (prefix === '' && name === STATE_FOLDER)) continue;
    const path = prefix === '' ? name : `${prefix}/${name}`;
    if (entry.isDirectory()) {
      if (!options?.skipFolder?.(path)) folders.push(name);
      continue;
    }
    if (!entry.isFile()) continue;
    // A name that is not UTF-8 comes back from readdir with U+FFFD and is not found under that spelling: skipped here.
    const info = quietLstat(folder.child(name));
    if (info?.isFile()) out.push({ path, size: info.size, mtime: info.mtimeMs });
  }
  for (const name of folders) {
    const path = prefix === '' ? name : `${prefix}/${name}`;
    const child = await walker.openChild(folder, name, path).catch((error: unknown) => {
      if (error instanceof VaultPathError) return 'link';
      throw error;
    });
    if (typeof child === 'string') continue;
    try {
      await collect(walker, child, path, options, out);
    } finally {
      await child.close();
    }
  }
}

/** lstat, or null for a file that went away (or cannot be looked at) meanwhile. */
function quietLstat(path: string): Stats | null {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}

/**
 * Removes the temporary files of writers that were killed (their pid is
 * gone), in every folder but hidden ones (the engine never writes there)
 * except our own staging folder.
 * Those of live processes, this one included, are theirs.
 */
export async function removeLeftovers(walker: FolderWalker): Promise<void> {
  const sweep = async (folder: Folder, prefix: string): Promise<void> => {
    const entries = await readdir(folder.self, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (entry.isFile() && entry.name.startsWith(TEMP_PREFIX) && !isAlive(entry.name)) {
        await unlink(folder.child(entry.name)).catch(() => undefined);
      } else if (entry.isDirectory() && (!entry.name.startsWith('.') || path === STATE_FOLDER || path === `${STATE_FOLDER}/staging`)) {
        const child = await walker.openChild(folder, entry.name, path).catch(() => 'skip');
        if (typeof child === 'string') continue;
        try {
          await sweep(child, path);
        } finally {
          await child.close();
        }
      }
    }
  };
  const root = await walker.walk([], '.');
  if (!root) return;
  try {
    await sweep(root.folder, '');
  } finally {
    await root.folder.close();
  }
}

/** Whether the process that made temporary file `name` (`<prefix><pid>-<random>`) still runs. */
function isAlive(name: string): boolean {
  const pid = Number.parseInt(name.slice(TEMP_PREFIX.length), 10);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM'; // alive, another user's
  }
}
