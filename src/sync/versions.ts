import type { Stamp, VersionVector } from './ports';

/** Version vectors, stamps and derived ids: the arithmetic the merge rules stand on. */

export type Order = 'equal' | 'after' | 'before' | 'concurrent';

/** How version `a` relates to `b`: `after` when `a` has seen everything `b` has and more. */
export function compareVersions(a: VersionVector, b: VersionVector): Order {
  let aAhead = false;
  let bAhead = false;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[key] ?? 0;
    const y = b[key] ?? 0;
    if (x > y) aAhead = true;
    else if (y > x) bAhead = true;
  }
  if (aAhead && bAhead) return 'concurrent';
  if (aAhead) return 'after';
  if (bAhead) return 'before';
  return 'equal';
}

/** The entry-wise maximum: a version that has seen both. */
export function mergeVersions(a: VersionVector, b: VersionVector): VersionVector {
  const merged: Record<string, number> = { ...a };
  for (const [key, value] of Object.entries(b)) merged[key] = Math.max(merged[key] ?? 0, value);
  return sortedVersion(merged);
}

/** `version` with this replica's entry set to `counter` (this device's sequence number at the change, so it only grows). */
export function bumpVersion(version: VersionVector, replica: string, counter: number): VersionVector {
  return sortedVersion({ ...version, [replica]: Math.max(counter, (version[replica] ?? 0) + 1) });
}

function sortedVersion(version: Record<string, number>): VersionVector {
  const sorted: Record<string, number> = {};
  for (const key of Object.keys(version).sort()) sorted[key] = version[key]!;
  return sorted;
}

export function versionsEqual(a: VersionVector, b: VersionVector): boolean {
  return compareVersions(a, b) === 'equal';
}

/** Orders stamps by time, then device: a total order every device agrees on. */
export function compareStamps(a: Stamp, b: Stamp): number {
  if (a.t !== b.t) return a.t < b.t ? -1 : 1;
  if (a.d !== b.d) return a.d < b.d ? -1 : 1;
  return 0;
}

/** The stamp of a file enrolled before any device changed it: older than every real change. */
export const GENESIS: Stamp = { t: 0, d: '' };

/**
 * A 128-bit id (32 hex digits) derived from strings: the same on every
 * device, so devices that enroll the same file, or resolve the same conflict,
 * name it alike without talking. Not a cryptographic hash (ids are compared,
 * never trusted): cyrb128, four mixed 32-bit lanes.
 */
export function deriveId(...parts: string[]): string {
  const text = parts.join('\u0000');
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i += 1) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1, h2, h3, h4].map((h) => (h >>> 0).toString(16).padStart(8, '0')).join('');
}
