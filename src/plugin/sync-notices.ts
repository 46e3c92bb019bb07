import { asyncScheduler, buffer, debounceTime, filter, map, share, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { shownReason } from '../app/display';
import type { ActivityEntry } from '../sync';
import type { Notify } from './notices';

/** Conflicts that arrive within this quiet time of each other make one notice. */
export const CONFLICT_NOTICE_QUIET_MS = 2_000;

/** The one notice for a batch of conflict copies (a catch-up can make many at once). */
export function conflictNotice(paths: readonly string[]): string {
  if (paths.length === 1) {
    return `Vault Peers: ${shownReason(paths[0])} was changed differently on two devices. Both versions are kept; choose one in the Conflicts list.`;
  }
  return `Vault Peers: ${paths.length} files were changed differently on two devices. Both versions of each are kept; choose in the Conflicts list.`;
}

/**
 * One notice per batch of conflicts, never one per file, and none for a
 * routine sync or a merged note (those are in the activity log).
 */
export function showConflictNotices(activity$: Observable<ActivityEntry>, notify: Notify, scheduler: SchedulerLike = asyncScheduler): Subscription {
  const conflicts = activity$.pipe(
    filter((entry) => entry.kind === 'conflict'),
    map((entry) => entry.path ?? ''),
    share(),
  );
  return conflicts
    .pipe(
      buffer(conflicts.pipe(debounceTime(CONFLICT_NOTICE_QUIET_MS, scheduler))),
      filter((paths) => paths.length > 0),
    )
    .subscribe((paths) => notify(conflictNotice([...new Set(paths)]), 15_000));
}
