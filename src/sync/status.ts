import { BehaviorSubject, Subject, type Observable } from 'rxjs';
import type { SyncEvent, SyncProgress } from '../core/ports';
import type { Folder, FolderEvent } from './folder';
import { conflictOriginal } from './paths';

/**
 * What the engine tells people: per-peer sync state (for `vault-peers
 * status` and the status view), the conflict copies (for `vault-peers
 * conflicts` and the Conflicts list), files that are not synced, and a short
 * activity log. Plain values on observables: data flows from the engine to
 * the views, never back.
 */

export type PeerSyncState = 'catching-up' | 'syncing' | 'live' | 'stopped';

export interface PeerSyncStatus {
  /** The peer's node id. */
  readonly deviceId: string;
  readonly state: PeerSyncState;
  /** Files and bytes of the running catch-up or burst, or null when live. */
  readonly progress: SyncProgress | null;
  /** When a sync with it last finished (scheduler time, ms since 1970). */
  readonly lastFinishedAt: number | null;
  readonly lastError: string | null;
}

export interface ConflictCopy {
  /** The conflict copy's path. */
  readonly copy: string;
  /** The file it belongs to (it may be gone). */
  readonly original: string;
  readonly originalExists: boolean;
}

export interface NotSyncedFile {
  readonly path: string;
  readonly reason: string;
}

export type ActivityKind = Exclude<FolderEvent['type'], 'now-synced'> | 'finished';

export interface ActivityEntry {
  readonly at: number;
  readonly kind: ActivityKind;
  /** The file concerned, if any. */
  readonly path: string | null;
  /** The peer concerned (node id), if any. */
  readonly peer: string | null;
  /** A sentence a person can read. */
  readonly message: string;
}

export const ACTIVITY_LOG_SIZE = 200;

export class SyncStatus {
  private readonly peers = new BehaviorSubject<ReadonlyMap<string, PeerSyncStatus>>(new Map());
  private readonly log = new BehaviorSubject<readonly ActivityEntry[]>([]);
  private readonly activity = new Subject<ActivityEntry>();
  private readonly notSynced = new BehaviorSubject<ReadonlyMap<string, NotSyncedFile>>(new Map());
  readonly peers$: Observable<ReadonlyMap<string, PeerSyncStatus>> = this.peers.asObservable();
  readonly activityLog$: Observable<readonly ActivityEntry[]> = this.log.asObservable();
  readonly activity$: Observable<ActivityEntry> = this.activity.asObservable();
  readonly notSynced$: Observable<ReadonlyMap<string, NotSyncedFile>> = this.notSynced.asObservable();

  constructor(private readonly now: () => number) {}

  /** A folder event → the log (and the not-synced list). */
  onFolderEvent(event: FolderEvent): void {
    switch (event.type) {
      case 'merged':
        this.record('merged', event.path, event.peer, `Merged concurrent edits${event.peer ? ` from ${short(event.peer)}` : ''} in ${event.path}`);
        return;
      case 'conflict':
        this.record('conflict', event.path, event.peer, `Kept both versions of ${event.path}: the other is ${event.copy}`);
        return;
      case 'not-synced': {
        const next = new Map(this.notSynced.value);
        if (next.get(event.path)?.reason === event.reason) return;
        next.set(event.path, { path: event.path, reason: event.reason });
        this.notSynced.next(next);
        this.record('not-synced', event.path, null, event.reason);
        return;
      }
      case 'now-synced':
        this.forgetNotSynced(event.path);
        return;
      case 'error':
        this.record('error', null, null, event.message);
        return;
    }
  }

  /** A session's event → its peer's status. */
  onSyncEvent(deviceId: string, event: SyncEvent): void {
    const old = this.peers.value.get(deviceId) ?? { deviceId, state: 'catching-up' as const, progress: null, lastFinishedAt: null, lastError: null };
    let next: PeerSyncStatus = old;
    if (event.type === 'started') next = { ...old, state: old.lastFinishedAt === null ? 'catching-up' : 'syncing', progress: null };
    else if (event.type === 'progress') next = { ...old, progress: { files: event.files, bytes: event.bytes } };
    else if (event.type === 'finished') {
      next = { ...old, state: 'live', progress: null, lastFinishedAt: this.now(), lastError: null };
    } else return;
    this.setPeer(next);
  }

  onSessionEnd(deviceId: string, error: string | null): void {
    const old = this.peers.value.get(deviceId);
    this.setPeer({ deviceId, state: 'stopped', progress: null, lastFinishedAt: old?.lastFinishedAt ?? null, lastError: error ?? old?.lastError ?? null });
    if (error) this.record('error', null, deviceId, error);
  }

  private forgetNotSynced(path: string): void {
    if (!this.notSynced.value.has(path)) return;
    const next = new Map(this.notSynced.value);
    next.delete(path);
    this.notSynced.next(next);
  }

  complete(): void {
    for (const subject of [this.peers, this.log, this.notSynced]) subject.complete();
    this.activity.complete();
  }

  private setPeer(status: PeerSyncStatus): void {
    const next = new Map(this.peers.value);
    next.set(status.deviceId, status);
    this.peers.next(next);
  }

  private record(kind: ActivityKind, path: string | null, peer: string | null, message: string): void {
    const entry: ActivityEntry = { at: this.now(), kind, path, peer, message };
    this.log.next([...this.log.value.slice(-(ACTIVITY_LOG_SIZE - 1)), entry]);
    this.activity.next(entry);
  }
}

/** The conflict copies in the index, with what they belong to. */
export function conflictCopies(folder: Folder): ConflictCopy[] {
  const copies: ConflictCopy[] = [];
  for (const record of folder.index.values()) {
    if (record.deleted) continue;
    const original = conflictOriginal(record.path);
    if (original === null) continue;
    copies.push({ copy: record.path, original, originalExists: folder.index.liveAt(original).length > 0 });
  }
  return copies.sort((a, b) => (a.copy < b.copy ? -1 : 1));
}

const short = (nodeId: string): string => nodeId.slice(0, 8);
