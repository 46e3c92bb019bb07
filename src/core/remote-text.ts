/**
 * Text another device chooses (its name, a close reason, a file name) made
 * safe to show in a terminal, a view or a notice: no control characters
 * (C0, DEL, C1: escape sequences could retitle a terminal, write the
 * clipboard or clear the screen), no bidirectional overrides or isolates
 * (which reorder what a person reads), no line or paragraph separators, and
 * a capped length.
 */

// C0 and DEL and C1 controls; bidi embeddings, overrides and isolates; line
// and paragraph separators; zero-width space and BOM, which hide text.
// Zero-width (non-)joiners stay: emoji sequences and Persian or Indic names need them.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/gu;

/**
 * @param max the longest result, in characters (code points); longer text ends with "…"
 * @returns the text with every unsafe character replaced by a space, runs of
 *   spaces collapsed and the ends trimmed
 */
export function safeRemoteText(text: unknown, max = 200): string {
  if (typeof text !== 'string') return '';
  const cleaned = text.replace(UNSAFE, ' ').replace(/\s+/gu, ' ').trim();
  const chars = [...cleaned];
  return chars.length <= max ? cleaned : `${chars.slice(0, Math.max(0, max - 1)).join('').trimEnd()}…`;
}

/** Whether a text is already safe to show as it is (nothing `safeRemoteText` would change but its length). */
export function isSafeRemoteText(text: string): boolean {
  return !UNSAFE_ANYWHERE.test(text);
}

const UNSAFE_ANYWHERE = new RegExp(UNSAFE.source, 'u');
