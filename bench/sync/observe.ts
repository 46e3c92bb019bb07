/**
 * Observation from outside the tools. A change has arrived when the other
 * side's file holds exactly the expected bytes (SHA-256 compared), or is gone
 * for a delete. Files are polled, never waited for through a tool:
 *
 * - one file: read every 2 ms (resolution 2 ms plus one read);
 * - many files: one sweep lists each still-pending folder (readdir), and
 *   reads only the names that appeared with the expected size; sweeps run
 *   back to back with at least `intervalMs` between starts, so the observer
 *   costs one readdir per pending folder, not one stat per missing file. The
 *   resolution is the gap between sweeps, reported with each result.
 *
 * Names whose any component starts with "." are the tools' own (Syncthing's
 * .stfolder and .syncthing.*.tmp; dot-folders are never synced by ours) and
 * are left out of every comparison.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { memoryOf, cpuSecondsOf } from './process';

export interface Expected {
  readonly bytes: number;
  readonly sha256: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function hashFile(path: string): string | null {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return null;
  }
}

function sizeOf(path: string): number | null {
  return statSync(path, { throwIfNoEntry: false })?.size ?? null;
}

/**
 * Resolves with the time (performance.now()) of the first check that found
 * `path` holding `expected` (or absent, for null).
 */
export async function waitForFile(path: string, expected: Expected | null, timeoutMs: number, intervalMs = 2): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const at = performance.now();
    const size = sizeOf(path);
    if (expected === null ? size === null : size === expected.bytes && hashFile(path) === expected.sha256) return at;
    if (at > deadline) throw new Error(`${path} did not ${expected === null ? 'disappear' : 'arrive'} within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

export interface Arrivals {
  /** When the first expected change was seen. */
  readonly first: number;
  /** When the last one was seen: everything present (and absent) as expected. */
  readonly last: number;
  /** Median gap between sweeps while anything was pending (the resolution), ms. */
  readonly resolutionMs: number;
  readonly sweeps: number;
}

/**
 * Waits until every path in `expected` under `root` holds its content and
 * every path in `absent` is gone.
 */
export async function waitForTree(root: string, expected: ReadonlyMap<string, Expected>, absent: readonly string[], timeoutMs: number, intervalMs = 25): Promise<Arrivals> {
  const pending = new Map<string, Map<string, Expected>>();
  for (const [path, want] of expected) {
    const dir = dirname(path);
    if (!pending.has(dir)) pending.set(dir, new Map());
    pending.get(dir)!.set(basename(path), want);
  }
  const gone = new Set(absent);
  const total = expected.size + absent.length;
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  let remaining = total;
  const gaps: number[] = [];
  let previousStart = 0;
  let sweeps = 0;
  const deadline = performance.now() + timeoutMs;
  while (remaining > 0) {
    const start = performance.now();
    if (previousStart) gaps.push(start - previousStart);
    previousStart = start;
    sweeps += 1;
    for (const [dir, names] of pending) {
      const at = performance.now();
      let listing: string[];
      try {
        listing = readdirSync(join(root, dir));
      } catch {
        continue;
      }
      for (const name of listing) {
        const want = names.get(name);
        if (!want) continue;
        const full = join(root, dir, name);
        if (sizeOf(full) !== want.bytes || hashFile(full) !== want.sha256) continue;
        names.delete(name);
        remaining -= 1;
        first = Math.min(first, at);
        last = Math.max(last, at);
      }
      if (names.size === 0) pending.delete(dir);
    }
    for (const path of [...gone]) {
      const at = performance.now();
      if (sizeOf(join(root, path)) === null) {
        gone.delete(path);
        remaining -= 1;
        first = Math.min(first, at);
        last = Math.max(last, at);
      }
    }
    if (remaining === 0) break;
    if (performance.now() > deadline) {
      const sample = [...pending].flatMap(([dir, names]) => [...names.keys()].map((n) => `${dir}/${n}`)).concat([...gone]).slice(0, 3);
      throw new Error(`${remaining} of ${total} changes had not arrived in ${root} after ${timeoutMs} ms (for example ${sample.join(', ')})`);
    }
    await sleep(Math.max(1, intervalMs - (performance.now() - start)));
  }
  gaps.sort((x, y) => x - y);
  return { first, last, resolutionMs: gaps.length ? gaps[Math.floor(gaps.length / 2)]! : 0, sweeps };
}

/** Every file under `root` (relative paths), leaving out dot-names at any depth. */
export function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, prefix: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(join(dir, entry.name), rel);
      else if (entry.isFile()) out.push(rel);
    }
  };
  walk(root, '');
  return out.sort();
}

export interface TreeDiff {
  readonly identical: boolean;
  readonly onlyA: string[];
  readonly onlyB: string[];
  readonly differ: string[];
  readonly files: number;
}

/** Compares two folders file by file (content, not times). */
export function compareTrees(a: string, b: string): TreeDiff {
  const la = listTree(a);
  const lb = new Set(listTree(b));
  const onlyA: string[] = [];
  const differ: string[] = [];
  for (const path of la) {
    if (!lb.delete(path)) onlyA.push(path);
    else if (!readFileSync(join(a, path)).equals(readFileSync(join(b, path)))) differ.push(path);
  }
  const onlyB = [...lb];
  return { identical: onlyA.length === 0 && onlyB.length === 0 && differ.length === 0, onlyA, onlyB, differ, files: la.length };
}

export function describeDiff(diff: TreeDiff): string {
  const some = (list: string[]): string => list.slice(0, 3).join(', ') + (list.length > 3 ? ', ...' : '');
  const parts: string[] = [];
  if (diff.onlyA.length) parts.push(`${diff.onlyA.length} only on A (${some(diff.onlyA)})`);
  if (diff.onlyB.length) parts.push(`${diff.onlyB.length} only on B (${some(diff.onlyB)})`);
  if (diff.differ.length) parts.push(`${diff.differ.length} differ (${some(diff.differ)})`);
  return parts.join('; ') || 'identical';
}

/** Resident memory of some processes, sampled every `everyMs` from /proc. */
export class MemorySampler {
  private readonly peak = new Map<number, number>();
  private readonly peakAnon = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pids: readonly number[],
    everyMs = 250,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  private sample(): void {
    for (const pid of this.pids) {
      const memory = memoryOf(pid);
      if (!memory) continue;
      this.peak.set(pid, Math.max(this.peak.get(pid) ?? 0, memory.rss, memory.hwm));
      this.peakAnon.set(pid, Math.max(this.peakAnon.get(pid) ?? 0, memory.anon));
    }
  }

  /** Stops sampling; per pid: the highest VmRSS or VmHWM seen, the highest RssAnon sampled, now's VmRSS, and CPU seconds so far. */
  stop(): { pid: number; peak: number; peakAnon: number; rss: number; cpuSeconds: number | null }[] {
    clearInterval(this.timer);
    this.sample();
    return this.pids.map((pid) => ({ pid, peak: this.peak.get(pid) ?? 0, peakAnon: this.peakAnon.get(pid) ?? 0, rss: memoryOf(pid)?.rss ?? 0, cpuSeconds: cpuSecondsOf(pid) }));
  }
}
