/**
 * The folder `vault-peers run --vault DIR` keeps in sync: checked before
 * anything is opened, taken with a lock of its own (so two state
 * directories never sync one folder at once), and run by the sync engine
 * with the folder adapter and the file store of this shell.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, realpath, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { NEVER, ReplaySubject, asyncScheduler, catchError, defer, exhaustMap, first, from, interval, map, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { VaultPeersError, errorMessage } from '../core/errors';
import type { PeerConnection, SyncEvent } from '../core/ports';
import type { ClosableSyncEngine } from '../app/peer-node';
import { VaultSyncEngine, defaultFilter, type FilterSettings, type Sha256 } from '../sync';
import type { Expected, FileChange, FileStat, ListOptions, VaultFiles, VaultPath } from '../sync/ports';
import { tryLock, type StateLock } from './lock';
import { FileSyncStore } from './sync-store-file';
import type { StateDir } from './state-dir';
import { NodeVaultFiles } from './vault-folder';
import { errnoOf } from './vault-folder-errors';
import { STATE_FOLDER } from './vault-folder-paths';

/**
 * The Obsidian config folder of a vault the headless peer syncs: never
 * synced, like in the plugin. Without Obsidian there is no `Vault#configDir`
 * to ask; a renamed one starts with a dot too (Obsidian requires it), and
 * hidden folders are never synced either.
 */
export const CONFIG_FOLDER = '.obsidian';

/** A folder `--vault` may name: it exists, it is a folder, and it neither holds nor sits in the state directory. */
export interface VaultChoice {
  /** Absolute, as the person gave it (a link at the root kept: they chose it). */
  readonly path: string;
  /** Links resolved: what the state is keyed by. */
  readonly real: string;
}

/** A folder that cannot be synced; the message says why and what to do. Nothing was opened or stored. */
export class VaultChoiceError extends VaultPeersError {}

function isInside(child: string, parent: string): boolean {
  const path = relative(parent, child);
  return path === '' || (!path.startsWith('..') && !isAbsolute(path));
}

/**
 * Checks a folder to sync against the state directory of this device.
 * @param stored whether it comes from the settings rather than the command line (for the message)
 * @throws VaultChoiceError with a one-line reason
 */
export async function checkVault(given: string, state: StateDir, stored = false): Promise<VaultChoice> {
  const path = resolve(given);
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' && stored) {
      throw new VaultChoiceError(`The vault ${path} (chosen by an earlier \`run --vault\`) does not exist. Put it back, or give its new place: vault-peers run --vault DIR`);
    }
    if (errnoOf(error) === 'ENOENT') throw new VaultChoiceError(`The vault ${path} does not exist. Create the folder first, or check the path.`);
    throw new VaultChoiceError(`Cannot open the vault ${path}: ${errorMessage(error)}`);
  }
  if (!info.isDirectory()) throw new VaultChoiceError(`The vault ${path} is a file; --vault takes the folder to keep in sync.`);
  const real = await realpath(path);
  if (isInside(state.realDir, real)) {
    throw new VaultChoiceError(
      `The vault ${path} contains this device's state directory ${state.dir} (its secret key and sync state must never be synced). Use --dir with a directory outside the vault.`,
    );
  }
  if (isInside(real, state.realDir)) throw new VaultChoiceError(`The vault ${path} is inside the state directory ${state.dir}. Keep your notes in a folder of their own.`);
  return { path, real };
}

/**
 * Where the engine's state for a vault lives: `<state dir>/sync/<name>-<hash>`,
 * keyed by the vault's real path. Another folder gets a store of its own
 * (its first start enrolls what it holds), never one whose index would read
 * every file of the other folder as deleted.
 */
export function syncStateDir(state: StateDir, vault: VaultChoice): string {
  const name = basename(vault.real).replace(/[^\p{L}\p{N}_-]+/gu, '-').slice(0, 40) || 'vault';
  return join(state.realDir, 'sync', `${name}-${createHash('sha256').update(vault.real).digest('hex').slice(0, 12)}`);
}

const nodeSha256: Sha256 = (bytes) => Promise.resolve(createHash('sha256').update(bytes).digest());

export interface SyncedVault extends ClosableSyncEngine {
  readonly vault: VaultChoice;
  /** Where the engine keeps its index and the notes' histories. */
  readonly stateDir: string;
  readonly engine: VaultSyncEngine;
  /** Emits once if the folder can no longer be watched (deleted, moved away, unmounted): syncing it has stopped. */
  readonly lost$: Observable<string>;
}

/**
 * Takes the vault's lock, opens the folder, the store and the engine (which
 * scans the folder against its index), ready to sync connections.
 * @param filter what is synced (the stored settings: attachments, exclude patterns, largest file)
 * @throws VaultPeersError when another process syncs the folder, or it cannot be opened
 */
export async function openSyncedVault(vault: VaultChoice, state: StateDir, nodeId: string, filter: FilterSettings = defaultFilter(CONFIG_FOLDER)): Promise<SyncedVault> {
  const stateDir = syncStateDir(state, vault);
  const marker = await checkMarker(vault, stateDir);
  const lock = await lockVault(vault, state);
  const lost = new ReplaySubject<string>(1);
  let polling: Subscription | null = null;
  try {
    const files = new GuardedFolder(await NodeVaultFiles.open(vault.path), marker, vault, (reason) => lost.next(reason));
    // A vault can go without a watcher event (an unmount; a deleted root, under load): its marker is looked for now and then too.
    polling = markerGone(() => defer(() => from(exists(marker))), MARKER_CHECK_MS).subscribe(() => lost.next(files.lostReason()));
    const engine = await VaultSyncEngine.open({
      deviceId: nodeId,
      files,
      store: new FileSyncStore(stateDir, { syncedFolder: vault.path }),
      filter,
      sha256: nodeSha256,
    });
    return {
      vault,
      stateDir,
      engine,
      lost$: lost.asObservable(),
      syncWithPeer: (connection: PeerConnection): Observable<SyncEvent> => engine.syncWithPeer(connection),
      close: async () => {
        polling?.unsubscribe();
        try {
          await engine.close();
        } finally {
          lost.complete();
          await lock.release();
        }
      },
    };
  } catch (error) {
    polling?.unsubscribe();
    await lock.release();
    throw error;
  }
}

/** How often a running peer looks for its vault's marker, in ms. */
export const MARKER_CHECK_MS = 3_000;

/** Emits once, when `present` (asked every `everyMs`, one question at a time) says the marker is gone. */
export function markerGone(present: () => Observable<boolean>, everyMs: number, scheduler: SchedulerLike = asyncScheduler): Observable<void> {
  return interval(everyMs, scheduler).pipe(
    exhaustMap(() => present()),
    first((found) => !found),
    map(() => undefined),
  );
}

async function lockVault(vault: VaultChoice, state: StateDir): Promise<StateLock> {
  const folder = join(vault.real, STATE_FOLDER);
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const lockPath = join(folder, 'lock');
  const lock = await tryLock(lockPath, `run --dir ${state.dir}`);
  if (!('busy' in lock)) return lock;
  const owner = lock.busy;
  throw new VaultChoiceError(
    `The vault ${vault.path} is already synced by \`vault-peers ${owner.command}\` (pid ${owner.pid}${owner.host ? ` on ${owner.host}` : ''}). ` +
      `One folder is synced by one device; if that process is gone (the vault was copied from another computer), remove ${lockPath}.`,
  );
}

/**
 * The marker `.vault-peers/folder` in a synced vault, as Syncthing's
 * `.stfolder`: made when a vault is first synced. A vault whose sync state
 * exists but whose marker is gone is not the folder that was synced (a drive
 * not mounted leaves an empty mount point; a folder was replaced): syncing it
 * would tell every other device that each file was deleted, so it is refused.
 * @returns the marker's path
 */
async function checkMarker(vault: VaultChoice, stateDir: string): Promise<string> {
  const marker = join(vault.path, STATE_FOLDER, MARKER);
  if (await exists(marker)) return marker;
  if (await exists(join(stateDir, 'index.log'))) {
    throw new VaultChoiceError(
      `The vault ${vault.path} was synced before but has lost its marker ${STATE_FOLDER}/${MARKER}: is it the right folder, and is its drive mounted? ` +
        `Nothing was synced, so no file is deleted on your other devices. If the folder is right, recreate the marker: mkdir -p "${join(vault.path, STATE_FOLDER)}" && touch "${marker}"`,
    );
  }
  await mkdir(dirname(marker), { recursive: true, mode: 0o700 });
  await writeFile(marker, MARKER_TEXT, { flag: 'wx' }).catch((error: unknown) => {
    if (errnoOf(error) !== 'EEXIST') throw error;
  });
  return marker;
}

const MARKER = 'folder';
const MARKER_TEXT =
  'This folder is kept in sync by Vault Peers. Leave this file here: without it, Vault Peers stops syncing the folder rather than take an empty or unmounted folder for every file deleted.\n';

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/**
 * The folder adapter, guarded for the folder going away under a running
 * peer: a file found missing while the vault's marker is gone too means the
 * folder was emptied, replaced or unmounted, not that a person deleted that
 * file, so the call fails instead of answering "no such file" (which the
 * engine would sync as a delete). The end of the watch (the folder deleted
 * or moved away) is reported instead of thrown, which the engine would not
 * handle. Either way `onLost` says why, and the headless peer stops.
 */
class GuardedFolder implements VaultFiles {
  constructor(
    private readonly files: VaultFiles,
    private readonly marker: string,
    private readonly vault: VaultChoice,
    private readonly onLost: (reason: string) => void,
  ) {}

  watch(): Observable<FileChange> {
    return this.files.watch().pipe(
      catchError((error: unknown) => {
        this.onLost(errorMessage(error));
        return NEVER;
      }),
    );
  }

  /** Why syncing stops when the marker is gone. */
  lostReason(): string {
    return `The vault ${this.vault.path} was deleted, emptied, replaced or unmounted (its marker ${STATE_FOLDER}/${MARKER} is gone), so no file was deleted on your other devices. Start \`vault-peers run\` again once the vault is back.`;
  }

  /** Rejects when the marker is gone; resolves with `value` otherwise. */
  private async guarded<T>(value: T): Promise<T> {
    if (await exists(this.marker)) return value;
    const reason = this.lostReason();
    this.onLost(reason);
    throw new VaultPeersError(reason);
  }

  async list(options?: ListOptions): Promise<FileStat[]> {
    return this.guarded(await this.files.list(options));
  }
  async stat(path: VaultPath): Promise<FileStat | null> {
    const found = await this.files.stat(path);
    return found ?? this.guarded(null);
  }
  async read(path: VaultPath): Promise<Uint8Array | null> {
    const found = await this.files.read(path);
    return found ?? this.guarded(null);
  }
  async readRange(path: VaultPath, offset: number, length: number): Promise<Uint8Array | null> {
    const found = await this.files.readRange(path, offset, length);
    return found ?? this.guarded(null);
  }
  writeText(path: VaultPath, text: string, expected: Expected): Promise<boolean> {
    return this.files.writeText(path, text, expected);
  }
  rename(from: VaultPath, to: VaultPath, expected?: Expected): Promise<boolean> {
    return this.files.rename(from, to, expected);
  }
  remove(path: VaultPath, expected: Expected): Promise<boolean> {
    return this.files.remove(path, expected);
  }
  stagedLength(key: string): Promise<number> {
    return this.files.stagedLength(key);
  }
  writeStaged(key: string, offset: number, bytes: Uint8Array): Promise<void> {
    return this.files.writeStaged(key, offset, bytes);
  }
  readStaged(key: string, offset: number, length: number): Promise<Uint8Array> {
    return this.files.readStaged(key, offset, length);
  }
  commitStaged(key: string, path: VaultPath, expected: Expected): Promise<boolean> {
    return this.files.commitStaged(key, path, expected);
  }
  discardStaged(key: string): Promise<void> {
    return this.files.discardStaged(key);
  }
  listStaged(): Promise<string[]> {
    return this.files.listStaged();
  }
}
