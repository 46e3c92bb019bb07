import { diff3Merge } from 'node-diff3';
import { applyHunks, textHunks, type Hunk } from './text-diff';

/**
 * Three-way merge of a note: `base` (the text last synced with disk),
 * `disk` (what another program wrote since) and `head` (the document, which
 * took remote changes since). Needed only when a disk edit races a remote
 * change that has not reached the disk yet; otherwise a diff base → disk is
 * enough.
 *
 * By lines first (node-diff3: fast by lines, super-linear by words); inside
 * a region where both sides changed the same lines, by characters: both
 * sides' hunks against the base are applied, and where hunks overlap the
 * head's version of the overlapped span comes first and the disk's after.
 * Every base character then appears at most once and every inserted
 * character exactly once: nothing typed is lost and nothing is duplicated.
 */

export interface MergeResult {
  readonly text: string;
  /** Whether both sides changed the same characters (the result holds both versions of them, one after the other). */
  readonly overlapped: boolean;
}

export function mergeThreeWay(base: string, disk: string, head: string): MergeResult {
  if (disk === base || disk === head) return { text: head, overlapped: false };
  if (head === base) return { text: disk, overlapped: false };
  const regions = diff3Merge(splitLines(disk), splitLines(base), splitLines(head), { excludeFalseConflicts: true });
  let text = '';
  let overlapped = false;
  for (const region of regions) {
    if (region.ok) {
      text += region.ok.join('');
    } else if (region.conflict) {
      const merged = mergeCharacters(region.conflict.o.join(''), region.conflict.a.join(''), region.conflict.b.join(''));
      text += merged.text;
      overlapped ||= merged.overlapped;
    }
  }
  return { text, overlapped };
}

/** Lines with their line ends kept, so joining them gives the text back exactly. */
export function splitLines(text: string): string[] {
  const lines = text.match(/[^\n]*\n|[^\n]+$/gu);
  return lines ?? [];
}

/** Character-level merge of one region: the hunks of both sides against `base`, overlapping ones kept both (head's first). */
export function mergeCharacters(base: string, disk: string, head: string): MergeResult {
  const tagged = [
    ...textHunks(base, head).map((hunk) => ({ hunk, side: 0 })),
    ...textHunks(base, disk).map((hunk) => ({ hunk, side: 1 })),
  ].sort((x, y) => x.hunk.start - y.hunk.start || x.hunk.end - y.hunk.end || x.side - y.side);
  const merged: Hunk[] = [];
  let overlapped = false;
  let i = 0;
  while (i < tagged.length) {
    const cluster = [tagged[i]!];
    let end = tagged[i]!.hunk.end;
    const start = tagged[i]!.hunk.start;
    i += 1;
    while (i < tagged.length && overlaps(start, end, tagged[i]!.hunk, cluster)) {
      cluster.push(tagged[i]!);
      end = Math.max(end, tagged[i]!.hunk.end);
      i += 1;
    }
    const sides = new Set(cluster.map((c) => c.side));
    const span = base.slice(start, end);
    const versionOf = (side: number): string =>
      applyHunks(
        span,
        cluster.filter((c) => c.side === side).map((c) => ({ start: c.hunk.start - start, end: c.hunk.end - start, insert: c.hunk.insert })),
      );
    if (sides.size === 1) {
      merged.push({ start, end, insert: versionOf(cluster[0]!.side) });
    } else {
      const fromHead = versionOf(0);
      const fromDisk = versionOf(1);
      if (fromHead !== fromDisk && end > start) overlapped = true;
      merged.push({ start, end, insert: bothVersions(fromHead, fromDisk) });
    }
  }
  return { text: applyHunks(base, merged), overlapped };
}

/**
 * Whether a hunk belongs to the cluster spanning [start, end): it shares a
 * character with it, or both are inserts at one point from the two sides
 * (compared, so lines both inserted are kept once). Other hunks that only
 * touch (an insert where the other side's change starts or ends) stay apart:
 * applied in order, both take effect.
 */
function overlaps(start: number, end: number, hunk: Hunk, cluster: readonly { hunk: Hunk }[]): boolean {
  if (hunk.start < end) return true;
  const pureInsert = (h: Hunk): boolean => h.start === h.end;
  return end === start && pureInsert(hunk) && hunk.start === start && cluster.every((c) => pureInsert(c.hunk));
}

/**
 * Both sides' versions of one span, head's first, with whole lines they
 * begin or end with in common kept once. A device killed after writing a
 * merged note and before recording it finds, on restart, lines on disk that
 * its document already holds: they are the same lines, not new ones. Text
 * within a line is never matched this way ("m2" and "m3" typed at one place
 * stay two edits).
 */
export function bothVersions(head: string, disk: string): string {
  if (head === disk) return head;
  let common = 0;
  while (common < head.length && common < disk.length && head[common] === disk[common]) common += 1;
  const prefix = common === 0 ? 0 : head.lastIndexOf('\n', common - 1) + 1;
  const headRest = head.slice(prefix);
  const diskRest = disk.slice(prefix);
  let same = 0;
  while (same < headRest.length && same < diskRest.length && headRest[headRest.length - 1 - same] === diskRest[diskRest.length - 1 - same]) same += 1;
  // The longest common end that starts a line in both (each rest starts a line).
  const startsLine = (text: string, length: number): boolean => length === text.length || text[text.length - length - 1] === '\n';
  let suffix = same;
  while (suffix > 0 && !(startsLine(headRest, suffix) && startsLine(diskRest, suffix))) suffix -= 1;
  return head.slice(0, prefix) + headRest.slice(0, headRest.length - suffix) + diskRest.slice(0, diskRest.length - suffix) + headRest.slice(headRest.length - suffix);
}
