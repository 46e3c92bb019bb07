import { unlink } from 'node:fs/promises';
import { decodeNote } from '../sync/disk';
import { mergeThreeWay } from '../sync/text-merge';
import { identityOf, openRegular, readAt, swapInNoting, writeTemp, type Identity, type Place } from './vault-folder-cas';

/**
 * POSIX has no "rename if unchanged": a program that opened a note just
 * before the sync replaced it writes into the replaced file, and that write
 * would be lost. The sync notices it (swapInNoting) and merges it back here:
 * what that program wrote is a change of the text it edited, merged three
 * ways into what the note holds now, and written back under the same
 * compare-and-swap (and the same watch for a late write), a few rounds at
 * most. The sync then reads the note as an edit made on this disk.
 */

/** Rounds before giving up on a note that keeps changing under every write. */
const ROUNDS = 5;

/**
 * @param edited the text the late write was made to (what the sync checked before replacing it)
 * @param late the replaced file's content after the late write
 */
export async function mergeLateWrite(place: Place, edited: string, late: Uint8Array, hardLinks: { works: boolean }): Promise<void> {
  let base = edited;
  let theirs = decodeNote(late);
  for (let round = 0; round < ROUNDS && theirs !== null; round += 1) {
    const current = await readWhole(place);
    if (!current) return;
    const merged = mergeThreeWay(base, theirs, current.text).text;
    if (merged === current.text) return;
    const temp = await writeTemp(place.folder, Buffer.from(merged, 'utf8'), current.identity.mode);
    const swapped = await swapInNoting(temp, place, current.identity, hardLinks);
    if (!swapped.swapped) {
      // Changed again meanwhile: merged into what is there now, next round.
      await unlink(place.folder.child(temp.name)).catch(() => undefined);
      continue;
    }
    let again: Uint8Array | null = null;
    await place.folder.sync().finally(() => (again = swapped.late()));
    if (!again) return;
    base = current.text;
    theirs = decodeNote(again);
  }
}

/** A note's whole text and the identity of the file it was read from, or null (gone, not text, or written to while read). */
async function readWhole(place: Place): Promise<{ text: string; identity: Identity } | null> {
  const opened = await openRegular(place);
  if (!opened) return null;
  try {
    const bytes = await readAt(opened.handle, 0, Number(opened.info.size));
    const after = await opened.handle.stat({ bigint: true });
    if (after.size !== opened.info.size || after.ctimeNs !== opened.info.ctimeNs) return null;
    const text = decodeNote(bytes);
    return text === null ? null : { text, identity: identityOf(opened.info) };
  } finally {
    await opened.handle.close();
  }
}
