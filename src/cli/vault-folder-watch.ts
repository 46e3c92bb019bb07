import { subscribe, type AsyncSubscription, type Event } from '@parcel/watcher';
import { lstat, realpath } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import { Observable, concatMap, from } from 'rxjs';
import type { FileChange, FileStat, VaultPath } from '../sync/ports';
import { FolderError, errnoOf, hostError } from './vault-folder-errors';

/**
 * Hidden files and folders, Vault Peers' own included (`.vault-peers/`,
 * `.vault-peers-tmp-*`): the engine never syncs them. Given to the watcher,
 * a hidden folder is not even watched (no inotify watch, no events).
 */
const IGNORE = ['**/.*'];

type Raw = { readonly kind: 'rescan' } | { readonly kind: 'events'; readonly root: string; readonly events: readonly Event[] };

const RESCAN: FileChange = { type: 'rescan' };

/**
 * The changes under `root`, from @parcel/watcher (inotify on Linux, FSEvents
 * on macOS, ReadDirectoryChangesW on Windows).
 *
 * - The first change is always `rescan`, once the watcher is live: whatever
 *   happened before that is found by the scan it asks for, so the engine
 *   should run its start-up scan on it.
 * - A watcher error (the watch of a folder failed, the backend stopped), or
 *   the root itself removed or moved away, restarts the watcher on the
 *   root's path and emits `rescan` again once it is live; a restart that
 *   fails (the folder is gone) ends the stream with an error saying why.
 * - A folder that appears (created, or moved in with files already inside)
 *   is reported as one `created` per file in it, found by `filesUnder`.
 * - A folder removed or moved away is one `deleted` naming the folder.
 * - Events for hidden paths are not passed on. Events come in batches; inotify's are about 50 ms late
 *   (the watcher's own coalescing window).
 *
 * Not detectable: @parcel/watcher 2.6 drops an inotify queue overflow
 * (IN_Q_OVERFLOW) without telling, and a new folder it cannot watch
 * (max_user_watches reached) goes unwatched without an error. An engine
 * that must not miss a change for long should also rescan now and then.
 */
export function watchFolder(root: string, filesUnder: (path: VaultPath) => Promise<FileStat[]>): Observable<FileChange> {
  return new Observable<Raw>((subscriber) => {
    let active: AsyncSubscription | null = null;
    let stopped = false;
    let generation = 0;

    const start = (): void => {
      const mine = (generation += 1);
      // The watcher does not follow a link at the root (IN_DONT_FOLLOW): give it the folder itself.
      realpath(root)
        .then((real) =>
          subscribe(
            real,
            (error, events) => {
              if (stopped || mine !== generation) return;
              // An error, or the root itself removed or moved: this watch is dead. Watch the folder at the root's path again.
              if (error || events.some((event) => event.path === real)) restart();
              else subscriber.next({ kind: 'events', root: real, events });
            },
            { ignore: IGNORE },
          ),
        )
        .then(
          (subscription) => {
            if (stopped || mine !== generation) {
              subscription.unsubscribe().catch(() => undefined);
              return;
            }
            active = subscription;
            subscriber.next({ kind: 'rescan' });
          },
          (error: unknown) => {
            if (stopped || mine !== generation) return;
            const gone = errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR';
            subscriber.error(gone ? new FolderError(`The synced folder ${root} is gone. Put it back, or point Vault Peers at the right folder.`, 'ENOENT') : hostError(error, 'watch', '.', root));
          },
        );
    };
    const stop = (): void => {
      const current = active;
      active = null;
      current?.unsubscribe().catch(() => undefined);
    };
    const restart = (): void => {
      stop();
      start();
    };

    start();
    return () => {
      stopped = true;
      stop();
    };
  }).pipe(
    // In order, one batch at a time: a folder's files are listed before the events that follow it are passed on.
    concatMap((raw) => (raw.kind === 'rescan' ? [RESCAN] : from(changesOf(raw.root, raw.events, filesUnder)).pipe(concatMap((changes) => changes)))),
  );
}

async function changesOf(root: string, events: readonly Event[], filesUnder: (path: VaultPath) => Promise<FileStat[]>): Promise<FileChange[]> {
  const changes: FileChange[] = [];
  for (const event of events) {
    const relativePath = relative(root, event.path);
    if (relativePath === '' || relativePath.startsWith('..') || isAbsolute(relativePath)) continue;
    const path = sep === '/' ? relativePath : relativePath.split(sep).join('/');
    if (path.split('/').some((segment) => segment.startsWith('.'))) continue;
    if (event.type === 'update') changes.push({ type: 'modified', path });
    else if (event.type === 'delete') changes.push({ type: 'deleted', path });
    else {
      const info = await lstat(event.path).catch(() => null);
      if (info?.isSymbolicLink()) continue;
      if (info?.isDirectory()) {
        const files = await filesUnder(path).catch(() => null);
        if (files) for (const file of files) changes.push({ type: 'created', path: file.path });
        else changes.push(RESCAN);
      } else changes.push({ type: 'created', path });
    }
  }
  return changes;
}
