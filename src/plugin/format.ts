import type { PeerStatus } from '../core/model';

export { shortId } from '../core/model';

export const STATUS_LABEL: Record<PeerStatus, string> = {
  disconnected: 'Disconnected',
  connecting: 'Connecting',
  connected: 'Connected',
  syncing: 'Syncing',
};

/** "just now", "5 minutes ago", "3 hours ago", "2 days ago"; "never" for null. */
export function relativeTime(iso: string | null, now: number): string {
  if (!iso) return 'never';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (Number.isNaN(seconds)) return 'never';
  if (seconds < 45) return 'just now';
  const units: [number, string][] = [
    [60, 'minute'],
    [3_600, 'hour'],
    [86_400, 'day'],
  ];
  let [size, name] = units[0]!;
  for (const unit of units) if (seconds >= unit[0]) [size, name] = unit;
  const count = Math.max(1, Math.round(seconds / size));
  return `${count} ${name}${count === 1 ? '' : 's'} ago`;
}
