/**
 * What `run` prints about syncing: one line when a sync with a device ends
 * (its catch-up on each connection, and each later burst of changes that
 * moved something), one per merge and per conflict
 * copy, the files that are not synced gathered into one line, and problems
 * gathered likewise (a retry's same problem at most once a minute).
 * Never a line per file synced. Paths come from other devices: every one
 * passes through safeRemoteText before it is printed.
 */
import { asyncScheduler, buffer, filter, share, throttleTime, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type { PeerManager } from '../core/peer-manager';
import type { SyncProgress } from '../core/ports';
import { safeRemoteText } from '../core/remote-text';
import type { ActivityEntry } from '../sync';
import { clock, count, shownDevice, shownReason, sizeText } from './terminal';

/** Longest path shown in a line; a longer one is cut (a hostile name cannot fill the terminal). */
const MAX_SHOWN_PATH = 200;
/** How long not-synced files (or problems) gather before their one line. */
const GATHER_MS = 1_000;
/** The same problem again (a retry) is printed at most once in this long. */
const PROBLEM_REPEAT_MS = 60_000;
/** Names listed in that line; the rest are counted. */
const NOT_SYNCED_NAMED = 3;

/** A vault path as lines show it: quoted, safe and capped. */
export function shownPath(path: string): string {
  return `"${safeRemoteText(path, MAX_SHOWN_PATH)}"`;
}

/** The files and bytes a finished sync moved, as a line's end: `3 files, 1.2 MB` or `nothing to exchange`. */
export function burstSummary(progress: SyncProgress | null): string {
  if (!progress || progress.files.total === 0) return 'nothing to exchange';
  const bytes = progress.bytes.total > 0 ? `, ${sizeText(progress.bytes.total)}` : '';
  return `${count(progress.files.total, 'file')}${bytes}`;
}

export interface SyncLine {
  readonly text: string;
  readonly problem?: boolean;
}

/**
 * Prints the sync's lines until the returned subscription is unsubscribed.
 * @param activity$ the engine's activity (what happened on this device alone is read from it)
 */
export function watchSync(
  manager: Pick<PeerManager, 'events$' | 'peerStates$' | 'getPeer'>,
  activity$: Observable<ActivityEntry>,
  print: (line: SyncLine) => void,
  scheduler: SchedulerLike = asyncScheduler,
): Subscription {
  const device = (nodeId: string | null): string => (nodeId === null ? 'another device' : shownDevice({ nodeId, name: manager.getPeer(nodeId)?.name ?? '' }));
  const lastProgress = new Map<string, SyncProgress | null>();
  /** Peers whose catch-up on the current connection was reported: a later burst that moved nothing is not news. */
  const reported = new Set<string>();
  const subscription = manager.peerStates$.subscribe((states) => {
    const live = new Set(states.filter((s) => s.status === 'connected' || s.status === 'syncing').map((s) => s.peer.nodeId));
    for (const nodeId of reported) if (!live.has(nodeId)) reported.delete(nodeId);
  });
  subscription.add(manager.events$.subscribe((event) => {
    if (event.type !== 'sync') return;
    const sync = event.event;
    const who = device(event.nodeId);
    switch (sync.type) {
      case 'started':
        lastProgress.set(event.nodeId, null);
        return;
      case 'progress':
        lastProgress.set(event.nodeId, { files: sync.files, bytes: sync.bytes });
        return;
      case 'finished': {
        const progress = lastProgress.get(event.nodeId) ?? null;
        lastProgress.delete(event.nodeId);
        if (reported.has(event.nodeId) && !(progress && progress.files.total > 0)) return;
        reported.add(event.nodeId);
        print({ text: `${clock()} ${who} in sync: ${burstSummary(progress)}` });
        return;
      }
      case 'merged':
        print({ text: `${clock()} merged concurrent edits from ${who} in ${shownPath(sync.path)}` });
        return;
      case 'conflict':
        print({ text: `${clock()} ${shownPath(sync.path)} changed on both sides: the other version is kept as ${shownPath(sync.copy)} (vault-peers conflicts)` });
        return;
    }
  }));
  // What happened on this device alone: a disk edit merged with changes not written out yet, files left out, problems.
  const local = activity$.pipe(filter((entry) => entry.peer === null));
  subscription.add(
    local.subscribe((entry) => {
      if (entry.kind === 'merged' && entry.path !== null) print({ text: `${clock()} merged the edit of ${shownPath(entry.path)} on this disk with changes from other devices` });
      if (entry.kind === 'conflict') print({ text: `${clock()} ${shownReason(entry.message)} (vault-peers conflicts)` });
    }),
  );
  // A full disk fails every file, and again on every retry: gathered like the
  // files not synced, and the same first problem is not repeated within a minute.
  let lastProblem: { kind: string; at: number } | null = null;
  subscription.add(
    gathered(local.pipe(filter((entry) => entry.kind === 'error')), scheduler).subscribe((entries) => {
      const first = entries[0]!.message;
      // The same problem names another file on the next round: compared without the names.
      const kind = first.replace(/"[^"]*"/gu, '""');
      const now = scheduler.now();
      if (lastProblem?.kind === kind && now - lastProblem.at < PROBLEM_REPEAT_MS) return;
      lastProblem = { kind, at: now };
      const more = entries.length - 1;
      print({ text: `sync problem: ${shownReason(first)}${more > 0 ? ` (and ${more} more; vault-peers status shows the last)` : ''}`, problem: true });
    }),
  );
  subscription.add(
    gathered(local.pipe(filter((entry) => entry.kind === 'not-synced' && entry.path !== null)), scheduler).subscribe((entries) => {
      // One file: the engine's sentence says which and why. More: their names, and where to read why.
      if (entries.length === 1) {
        print({ text: `${clock()} ${shownReason(entries[0]!.message)}` });
        return;
      }
      const named = entries.slice(0, NOT_SYNCED_NAMED).map((e) => shownPath(e.path!));
      const more = entries.length - named.length;
      print({ text: `${clock()} not synced: ${named.join(', ')}${more > 0 ? ` and ${more} more` : ''} (vault-peers status says why)` });
    }),
  );
  return subscription;
}

/** Entries gathered for a second from the first one (a scan can find many at once), then one batch; no timer runs meanwhile. */
function gathered(entries$: Observable<ActivityEntry>, scheduler: SchedulerLike): Observable<ActivityEntry[]> {
  const shared = entries$.pipe(share());
  return shared.pipe(buffer(shared.pipe(throttleTime(GATHER_MS, scheduler, { leading: false, trailing: true }))));
}
