import {
  EMPTY,
  Observable,
  asyncScheduler,
  auditTime,
  catchError,
  concatMap,
  defer,
  distinctUntilChanged,
  from,
  map,
  shareReplay,
  startWith,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { errorMessage } from '../core/errors';
import type { PeerConnection, SyncEngine, SyncEvent } from '../core/ports';
import { BlobFetcher } from './blob-fetcher';
import { Folder, needsDisk } from './folder';
import { webSha256, type Sha256 } from './hash';
import { ingestChanges, scanFolder } from './local';
import type { FilterSettings } from './paths';
import type { FileChange, FileRecord, SyncStore, VaultFiles } from './ports';
import { PeerSession } from './session';
import { SyncStatus, conflictCopies, type ConflictCopy } from './status';
import { RESCAN_MS, batchChanges, retryWhilePending, withPeriodicRescan } from './timing';
import { materialize } from './writer';
import { resolveConflict, type ConflictChoice } from './conflicts';
import { WATCH_FAILED_BYE, watchFailed } from './messages';

/**
 * The sync engine for one folder: implements core's `SyncEngine` (one
 * session per connection, all sessions sharing the folder), watches the
 * folder, and publishes what the status view, the CLI and the conflicts list
 * show.
 */

export interface SyncEngineOptions {
  /** This device's node id. */
  readonly deviceId: string;
  /** Which folder; paired devices must use the same id for the same vault (default `vault`). */
  readonly folderId?: string;
  readonly files: VaultFiles;
  readonly store: SyncStore;
  /** What to sync (`defaultFilter(vault.configDir)` unless the person changed it). */
  readonly filter: FilterSettings;
  /** Timers (debounce, progress) run here: asyncScheduler by default, a TestScheduler in marble specs. */
  readonly scheduler?: SchedulerLike;
  /** Quiet time that closes a batch of disk events, in ms (default 50); also the window that pairs a delete and a create into a move. */
  readonly debounceMs?: number;
  /** Longest a batch of disk events is held while events keep coming, in ms (default 1000). */
  readonly maxBatchMs?: number;
  /** The whole folder is compared with the index this often, in ms (default one hour), in case the watcher dropped events. */
  readonly rescanMs?: number;
  /** Progress events at most this often, in ms (default 250). */
  readonly progressMs?: number;
  /** Notes' documents kept in memory (default 64). */
  readonly docCacheSize?: number;
  readonly randomBytes?: (length: number) => Uint8Array;
  readonly sha256?: Sha256;
  /** Diagnostics: called with what the engine decided at each step. */
  readonly trace?: (step: string, detail: unknown) => void;
}

export class VaultSyncEngine implements SyncEngine {
  private readonly status: SyncStatus;
  private readonly fetcher: BlobFetcher;
  private readonly sessions = new Set<PeerSession>();
  private readonly subscriptions: Subscription[] = [];
  private closed = false;
  /** Why syncing stopped for good (the watcher failed), or null. */
  private halted: string | null = null;
  /** Per-peer sync state, for `vault-peers status` and the status view. */
  readonly peers$;
  /** The last ACTIVITY_LOG_SIZE things that happened (merges, conflicts, files not synced, errors), oldest first. */
  readonly activityLog$;
  /** Each thing as it happens. */
  readonly activity$;
  /** Files that stay on this device, with the reason. */
  readonly notSynced$;
  /** Conflict copies in the folder, for `vault-peers conflicts` and the Conflicts list. */
  readonly conflicts$: Observable<readonly ConflictCopy[]>;

  private constructor(
    private readonly folder: Folder,
    private readonly scheduler: SchedulerLike,
    private readonly options: SyncEngineOptions,
  ) {
    this.status = new SyncStatus(() => scheduler.now());
    this.fetcher = new BlobFetcher(folder, scheduler);
    this.peers$ = this.status.peers$;
    this.activityLog$ = this.status.activityLog$;
    this.activity$ = this.status.activity$;
    this.notSynced$ = this.status.notSynced$;
    this.conflicts$ = folder.changes$.pipe(
      auditTime(100, scheduler),
      startWith(null),
      map(() => conflictCopies(folder)),
      distinctUntilChanged((a, b) => JSON.stringify(a) === JSON.stringify(b)),
      shareReplay({ bufferSize: 1, refCount: true }),
    );
  }

  /**
   * Opens the folder's state (rebuilding it if the store belongs to another
   * device), compares the folder with it, writes out anything a previous run
   * left undone, and starts watching. Sync with peers through `syncWithPeer`.
   */
  static async open(options: SyncEngineOptions): Promise<VaultSyncEngine> {
    const scheduler = options.scheduler ?? asyncScheduler;
    const folder = await Folder.open(options.files, options.store, {
      deviceId: options.deviceId,
      folderId: options.folderId ?? 'vault',
      filter: options.filter,
      docCacheSize: options.docCacheSize ?? 64,
      now: () => scheduler.now(),
      randomBytes: options.randomBytes ?? ((length) => crypto.getRandomValues(new Uint8Array(length))),
      sha256: options.sha256 ?? webSha256,
      ...(options.trace ? { trace: options.trace } : {}),
    });
    const engine = new VaultSyncEngine(folder, scheduler, options);
    try {
      await engine.start();
    } catch (error) {
      // The watcher and the retry loop are already running: a failed open must not leave them behind.
      await engine.close().catch(() => undefined);
      throw error;
    }
    return engine;
  }

  private async start(): Promise<void> {
    const folder = this.folder;
    this.subscriptions.push(folder.events$.subscribe((event) => this.status.onFolderEvent(event)));
    this.subscriptions.push(folder.wanted$.subscribe(() => this.fetcher.kick()));
    // Watch before scanning: a change made during the scan is queued behind it, not lost.
    this.subscriptions.push(
      this.options.files
        .watch()
        .pipe(
          withPeriodicRescan<FileChange>({ type: 'rescan' }, this.options.rescanMs ?? RESCAN_MS, this.scheduler),
          batchChanges(this.options.debounceMs ?? 50, this.options.maxBatchMs ?? 1000, this.scheduler),
          concatMap((batch) =>
            defer(() => from(folder.run(async () => materialize(folder, idsNeedingDisk(await ingestChanges(folder, batch)))))).pipe(
              // A batch that fails (a full disk) is reported; the next event or rescan tries again.
              catchError((error: unknown) => {
                folder.emit({ type: 'error', message: errorMessage(error) });
                return EMPTY;
              }),
            ),
          ),
        )
        .subscribe({ error: (error: unknown) => this.watchFailed(error) }),
    );
    // Writes that could not be done yet (a file in the way, a full disk) are tried again with backoff.
    // (An attachment waiting for content is the fetcher's, unless the content has since appeared on this disk.)
    const retryable = (): string[] =>
      [...folder.pendingDisk].filter((id) => {
        const hash = folder.index.get(id)?.hash ?? '';
        return !folder.wanted.has(hash) || folder.index.withDiskHash(hash).length > 0;
      });
    this.subscriptions.push(
      retryWhilePending(
        folder.idle$.pipe(map(() => retryable().length > 0)),
        () => defer(() => from(folder.run(() => materialize(folder, retryable())))).pipe(catchError(() => EMPTY)),
        this.scheduler,
      ).subscribe(),
    );
    await folder.run(() => scanFolder(folder, folder.fresh));
    await folder.run(() => materialize(folder, idsNeedingDisk(folder.index.values())));
    for (const key of await this.options.files.listStaged()) if (!folder.wanted.has(key)) await this.options.files.discardStaged(key);
  }

  /**
   * The folder can no longer be watched: changes made here would be missed, so
   * every session stops (peers are told why, and each session ends with this
   * error) and new ones are refused until the host opens a new engine.
   */
  private watchFailed(error: unknown): void {
    this.halted = watchFailed(errorMessage(error));
    this.folder.emit({ type: 'error', message: this.halted });
    for (const session of this.sessions) session.stop(WATCH_FAILED_BYE);
  }

  syncWithPeer(connection: PeerConnection): Observable<SyncEvent> {
    return new Observable<SyncEvent>((subscriber) => {
      if (this.closed) {
        subscriber.complete();
        return undefined;
      }
      if (this.halted) {
        subscriber.error(new Error(this.halted));
        return undefined;
      }
      const deviceId = connection.remoteNodeId;
      // Merges and conflict copies that came from this peer go out on its sync events too (core's SyncEvent).
      const fromPeer = this.folder.events$.subscribe((event) => {
        if (event.type === 'merged' && event.peer === deviceId) subscriber.next({ type: 'merged', path: event.path });
        if (event.type === 'conflict' && event.peer === deviceId) subscriber.next({ type: 'conflict', path: event.path, copy: event.copy });
      });
      const session = new PeerSession(
        this.folder,
        connection,
        this.fetcher,
        { scheduler: this.scheduler, progressMs: this.options.progressMs ?? 250, blobServers: 4 },
        (event) => {
          this.status.onSyncEvent(deviceId, event);
          subscriber.next(event);
        },
      );
      this.sessions.add(session);
      session.run().then(
        () => {
          this.sessions.delete(session);
          this.status.onSessionEnd(deviceId, this.halted);
          if (this.halted) subscriber.error(new Error(this.halted));
          else subscriber.complete();
        },
        (error: unknown) => {
          this.sessions.delete(session);
          this.status.onSessionEnd(deviceId, errorMessage(error));
          subscriber.error(error);
        },
      );
      return () => {
        fromPeer.unsubscribe();
        session.stop(this.closed ? 'The other device is shutting down.' : undefined);
        this.sessions.delete(session);
      };
    });
  }

  /** Keep this copy, keep that file, or keep both (the copy gets an ordinary name). */
  resolveConflict(copyPath: string, choice: ConflictChoice): Promise<void> {
    return this.folder.run(() => resolveConflict(this.folder, copyPath, choice));
  }

  /** Records whose file this device still has to write, move, fetch or delete: what `vault-peers status` shows as pending here. */
  pending(): { files: number; bytes: number } {
    let files = 0;
    let bytes = 0;
    for (const record of this.folder.index.values()) {
      if (!needsDisk(record) || this.folder.filter.excludedReason(record.path, record.size)) continue;
      files += 1;
      bytes += record.deleted ? 0 : record.size;
    }
    return { files, bytes };
  }

  /**
   * What a peer still lacks of this device's changes, as far as it last
   * confirmed: files changed here since (all of them if it never confirmed
   * this index). For `vault-peers status`.
   */
  pendingFor(deviceId: string): { files: number } {
    const mark = this.folder.peerMark(deviceId);
    const since = mark.ackedEpoch === this.folder.epoch ? mark.acked : 0;
    let files = 0;
    for (const record of this.folder.index.values()) if (record.seq > since) files += 1;
    return { files };
  }

  /** Resolves once every disk change seen so far is ingested and written (for specs and the CLI's `--once`). */
  settled(): Promise<void> {
    return this.folder.settled();
  }

  /** Stops every session (peers are told), the watcher and transfers; the store holds everything done. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const session of this.sessions) session.stop('The other device is shutting down.');
    this.sessions.clear();
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.fetcher.stop();
    await this.folder.close();
    this.status.complete();
  }

  /** For diagnosing a sync that does not finish: each session's counters. */
  describeSessions(): string[] {
    return [...this.sessions].map((s) => s.describe());
  }

  /** For specs and tools: the index as it stands. */
  records(): FileRecord[] {
    return [...this.folder.index.values()];
  }
}

function idsNeedingDisk(records: Iterable<FileRecord>): string[] {
  return [...records].filter(needsDisk).map((r) => r.id);
}
