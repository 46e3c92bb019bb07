import type { PeerStatus } from '../core/model';
import type { SyncProgress } from '../core/ports';

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

/** "512 B", "3.4 KB", "1.2 MB", "2.0 GB" (powers of 1,024, as file managers show sizes). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${Math.max(0, Math.round(bytes))} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]!}`;
}

/** "12 of 40 files, 1.2 MB of 3.4 MB"; files alone while no bytes are counted (notes move as small edits). */
export function progressText(progress: SyncProgress): string {
  const { files, bytes } = progress;
  const fileText = `${files.done} of ${files.total} file${files.total === 1 ? '' : 's'}`;
  return bytes.total === 0 ? fileText : `${fileText}, ${formatBytes(bytes.done)} of ${formatBytes(bytes.total)}`;
}
