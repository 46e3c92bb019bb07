import { shownName, shownReason } from '../app/display';
import type { ActivityEntry } from '../sync';

/** How many of the engine's recent entries the view shows, newest first. */
export const SHOWN_ACTIVITY = 30;

/**
 * One line of the sync activity log, naming devices by the names they have
 * here ("Merged concurrent edits from Laptop in Daily/2026-11-25.md").
 * Every path and reason may come from another device: made safe first.
 */
export function describeActivity(entry: ActivityEntry, nameOf: (nodeId: string) => string | undefined): string {
  const device = entry.peer ? shownName(nameOf(entry.peer), entry.peer) : null;
  const path = entry.path === null ? '' : shownReason(entry.path);
  switch (entry.kind) {
    case 'merged':
      return device ? `Merged concurrent edits from ${device} in ${path}` : `Merged an edit made here with one that had just arrived, in ${path}`;
    case 'conflict':
      return `${shownReason(entry.message)}${device ? ` (changed on ${device} too)` : ''}`;
    default:
      return device ? `${device}: ${shownReason(entry.message)}` : shownReason(entry.message);
  }
}

/** Fills `list` with the newest entries first, each with its time. */
export function renderActivity(list: HTMLElement, entries: readonly ActivityEntry[], nameOf: (nodeId: string) => string | undefined): void {
  list.empty();
  const newest = entries.slice(-SHOWN_ACTIVITY).reverse();
  list.toggleClass('vault-peers-hidden', newest.length === 0);
  for (const entry of newest) {
    const row = list.createDiv({ cls: `vault-peers-activity vault-peers-activity-${entry.kind}` });
    const time = new Date(entry.at);
    row.createSpan({ cls: 'vault-peers-activity-time', text: time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }), attr: { title: time.toLocaleString() } });
    row.createSpan({ cls: 'vault-peers-activity-text', text: describeActivity(entry, nameOf) });
  }
}
