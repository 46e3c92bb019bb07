import DiffMatchPatch from 'diff-match-patch';

/**
 * Minimal edits between two texts, as hunks of the old text. Used to turn a
 * new disk text into Yjs operations (never a whole-text replacement, which
 * would concatenate concurrent versions) and by the three-way merge.
 *
 * diff-match-patch works on UTF-16 code units and may cut an emoji (a
 * surrogate pair) in half; a half alone would be written to disk as U+FFFD.
 * So astral characters are mapped to private-use characters for the diff
 * and back afterwards, and hunks always fall between whole code points.
 */

export interface Hunk {
  /** Start and end (exclusive) in the old text, in UTF-16 units. */
  readonly start: number;
  readonly end: number;
  /** What replaces old[start, end). */
  readonly insert: string;
}

const dmp = new DiffMatchPatch();
const { DIFF_DELETE, DIFF_EQUAL, DIFF_INSERT } = DiffMatchPatch;
type Diff = DiffMatchPatch.Diff;
// A diff that gives up early is still a correct diff, only a larger one.
dmp.Diff_Timeout = 2;

const PRIVATE_FIRST = 0xe000;
const PRIVATE_LAST = 0xf8ff;
const ASTRAL = /[\ud800-\udbff][\udc00-\udfff]/gu;

/** The hunks that turn `from` into `to`, ascending and non-overlapping. */
export function textHunks(from: string, to: string): Hunk[] {
  if (from === to) return [];
  const coded = encodeAstral(from, to);
  if (!coded) return [prefixSuffixHunk(from, to)];
  const diffs = dmp.diff_main(coded.from, coded.to, from.length + to.length > 20_000);
  dmp.diff_cleanupSemantic(diffs);
  return hunksOf(diffs, coded.decode);
}

/** Applies hunks of `text` (as returned by textHunks) to it. */
export function applyHunks(text: string, hunks: readonly Hunk[]): string {
  let out = '';
  let at = 0;
  for (const hunk of hunks) {
    out += text.slice(at, hunk.start) + hunk.insert;
    at = hunk.end;
  }
  return out + text.slice(at);
}

function hunksOf(diffs: Diff[], decode: (s: string) => string): Hunk[] {
  const hunks: Hunk[] = [];
  let at = 0;
  let open: { start: number; end: number; insert: string } | null = null;
  for (const [op, coded] of diffs) {
    const text = decode(coded);
    if (op === DIFF_EQUAL) {
      if (open) hunks.push(open);
      open = null;
      at += text.length;
    } else {
      open ??= { start: at, end: at, insert: '' };
      if (op === DIFF_DELETE) {
        at += text.length;
        open.end = at;
      } else if (op === DIFF_INSERT) {
        open.insert += text;
      }
    }
  }
  if (open) hunks.push(open);
  return hunks;
}

/**
 * Replaces each astral character of both texts by one private-use character
 * that occurs in neither. Null when there are more distinct astral
 * characters than free private-use ones.
 */
function encodeAstral(from: string, to: string): { from: string; to: string; decode: (s: string) => string } | null {
  const astral = new Set([...(from.match(ASTRAL) ?? []), ...(to.match(ASTRAL) ?? [])]);
  if (astral.size === 0) return { from, to, decode: (s) => s };
  const used = new Set<number>();
  for (const text of [from, to]) {
    for (let i = 0; i < text.length; i += 1) {
      const code = text.charCodeAt(i);
      if (code >= PRIVATE_FIRST && code <= PRIVATE_LAST) used.add(code);
    }
  }
  const forward = new Map<string, string>();
  const backward = new Map<string, string>();
  let next = PRIVATE_FIRST;
  for (const char of astral) {
    while (used.has(next)) next += 1;
    if (next > PRIVATE_LAST) return null;
    const stand = String.fromCharCode(next);
    next += 1;
    forward.set(char, stand);
    backward.set(stand, char);
  }
  const encode = (text: string): string => text.replace(ASTRAL, (c) => forward.get(c)!);
  const decode = (text: string): string => {
    let out = '';
    for (const c of text) out += backward.get(c) ?? c;
    return out;
  };
  return { from: encode(from), to: encode(to), decode };
}

/** One hunk between the common prefix and suffix, both cut at whole code points. */
function prefixSuffixHunk(from: string, to: string): Hunk {
  let start = 0;
  const max = Math.min(from.length, to.length);
  while (start < max && from.charCodeAt(start) === to.charCodeAt(start)) start += 1;
  if (start > 0 && isHigh(from.charCodeAt(start - 1))) start -= 1;
  let tail = 0;
  while (tail < max - start && from.charCodeAt(from.length - 1 - tail) === to.charCodeAt(to.length - 1 - tail)) tail += 1;
  if (tail > 0 && isLow(from.charCodeAt(from.length - tail))) tail -= 1;
  return { start, end: from.length - tail, insert: to.slice(start, to.length - tail) };
}

const isHigh = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;
