import type { Folder } from './folder';
import { conflictName, pathKey } from './paths';
import type { DocWrite, FileRecord } from './ports';
import { collisionLoser, metaOf } from './rules';
import { bumpVersion } from './versions';

/**
 * Two live files that claim one path (equal ignoring case and Unicode form,
 * or a file where another needs a folder) cannot both be on disk. The rule
 * is the same on every device, so each device that sees the collision makes
 * the same change: the older file gives way. If both hold the same content
 * (two devices that enrolled one file under different histories), the older
 * record is retired and the other takes over its file on disk; otherwise the
 * older moves to a `sync-conflict` name and both are kept.
 */

/**
 * Settles every collision of `touched` records (already committed) and
 * commits the result.
 * @param announced content hashes peers announced for notes this device has not received yet
 * @param peer the peer whose change brought the collision, if any (for the activity log)
 * @returns the records that changed, for the writer
 */
export async function settleCollisions(folder: Folder, touched: readonly FileRecord[], announced: ReadonlyMap<string, string>, peer: string | null = null): Promise<FileRecord[]> {
  const changed = new Map<string, FileRecord>();
  const docs: DocWrite[] = [];
  for (const start of touched) {
    let record = changed.get(start.id) ?? folder.index.get(start.id);
    for (let guard = 0; record && !record.deleted && guard < 8; guard += 1) {
      const others = folder.index.collisionsOf(record).filter((other) => !other.deleted);
      if (others.length === 0) break;
      const other = others[0]!;
      // A file in the way of a folder always moves (renaming a file inside would leave the folder blocked).
      const sameKey = pathKey(record.path) === pathKey(other.path);
      const loser = !sameKey ? (record.path.length < other.path.length ? record : other) : collisionLoser(metaOf(record), metaOf(other)).id === record.id ? record : other;
      const winner = loser === record ? other : record;
      const seq = folder.nextSeq();
      // This device's own content when it has it; a peer's announced hash only for a note whose text has not arrived.
      const contentOf = (r: FileRecord): string => (r.hash !== '' ? r.hash : (announced.get(r.id) ?? ''));
      if (loser.kind === winner.kind && contentOf(loser) !== '' && contentOf(loser) === contentOf(winner) && loser.path === winner.path) {
        let heir = winner;
        if (loser.disk && !winner.disk) {
          heir = { ...winner, disk: loser.disk };
          if (loser.kind === 'text') docs.push({ id: winner.id, base: (await folder.notes.open(loser.id)).base });
        }
        // The retired record keeps its file on disk unless the heir took it over: then the writer removes it (checked).
        const retired: FileRecord = { ...loser, deleted: true, version: bumpVersion(loser.version, folder.replica, seq), seq, disk: heir === winner ? loser.disk : null };
        await folder.commit({ records: heir === winner ? [retired] : [retired, heir], docs: docs.splice(0) });
        changed.set(retired.id, retired);
        changed.set(heir.id, heir);
      } else {
        const stampForName = loser.changed.t > 0 ? loser.changed : folder.stamp();
        const version = bumpVersion(loser.version, folder.replica, seq);
        // Not a change anyone made to the file (this device may not even hold it): it does not keep the file
        // alive against a delete that saw the file's last real change.
        const moved: FileRecord = { ...loser, path: conflictName(loser.path, stampForName), moved: folder.stamp(), version, seq };
        await folder.commit({ records: [moved] });
        changed.set(moved.id, moved);
        folder.emit({ type: 'conflict', path: winner.path, copy: moved.path, peer });
      }
      record = folder.index.get(start.id);
    }
  }
  return [...changed.values()];
}
