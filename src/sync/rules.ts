import { conflictName } from './paths';
import type { FileRecord, VersionVector } from './ports';
import { compareStamps, compareVersions, deriveId, mergeVersions, versionsEqual } from './versions';

/**
 * The merge rules for two versions of one file's record, as pure functions.
 * They are commutative and associative (a join), so every device reaches the
 * same record whatever order it meets the versions in, with no extra round
 * of messages. Notes' content is not decided here: their Yjs documents merge.
 */

/** The replicated part of a record: what every device agrees on. */
export type Meta = Omit<FileRecord, 'seq' | 'sv' | 'disk'>;

export interface Resolution {
  readonly meta: Meta;
  /** A conflict copy to add: the losing content of two concurrent attachment versions. */
  readonly copy: Meta | null;
}

export function metaOf(record: Meta): Meta {
  const { id, path, kind, deleted, hash, size, changed, moved, version, lived } = record;
  return { id, path, kind, deleted, hash, size, changed, moved, version, lived };
}

export function sameMeta(a: Meta, b: Meta): boolean {
  return (
    a.id === b.id &&
    a.path === b.path &&
    a.kind === b.kind &&
    a.deleted === b.deleted &&
    (a.kind === 'text' || (a.hash === b.hash && a.size === b.size)) &&
    compareStamps(a.changed, b.changed) === 0 &&
    compareStamps(a.moved, b.moved) === 0 &&
    versionsEqual(a.version, b.version) &&
    versionsEqual(a.lived, b.lived)
  );
}

/**
 * Two versions of one file's record → the one every device ends with.
 * - One version has seen the other: it wins whole.
 * - Concurrent: a side stays live unless the other side deleted it after
 *   seeing the change that made it live (an edit, or any change, beats a
 *   delete made without knowing of it); the path of the later `moved`, the content of the later
 *   `changed` (so a rename and an edit both stick); two different live
 *   attachment contents keep both, the older as a conflict copy; the version
 *   has seen both.
 */
export function resolve(local: Meta, remote: Meta): Resolution {
  const order = compareVersions(local.version, remote.version);
  if (order === 'after' || (order === 'equal' && sameMeta(local, remote))) return { meta: local, copy: null };
  if (order === 'before') return { meta: remote, copy: null };

  // What made each side live that the other has not seen. A side stays live unless the other deleted it
  // after seeing all of that.
  const localFrontier = unseen(local.lived, remote.version);
  const remoteFrontier = unseen(remote.lived, local.version);
  const localLives = !local.deleted && !(remote.deleted && isEmpty(localFrontier));
  const remoteLives = !remote.deleted && !(local.deleted && isEmpty(remoteFrontier));
  const pathFrom = laterOf(local, remote, 'moved');
  const contentFrom = localLives !== remoteLives ? (localLives ? local : remote) : laterOf(local, remote, 'changed');
  const contentLoser = contentFrom === local ? remote : local;
  // What keeps the result live: a lone survivor's changes the deleting side had not seen; both sides' when
  // both live (a live side having seen the other's change does not make that change any less alive).
  const lived =
    localLives && !remoteLives ? localFrontier : remoteLives && !localLives ? remoteFrontier : mergeVersions(local.lived, remote.lived);
  const meta: Meta = {
    id: local.id,
    path: pathFrom.path,
    kind: local.kind,
    deleted: !localLives && !remoteLives,
    hash: contentFrom.hash,
    size: contentFrom.size,
    changed: contentFrom.changed,
    moved: pathFrom.moved,
    version: mergeVersions(local.version, remote.version),
    lived,
  };
  const copy = local.kind === 'blob' && localLives && remoteLives && local.hash !== remote.hash ? conflictCopy(contentLoser, meta.path) : null;
  return { meta, copy };
}

/** The entries of `a` that `b` has not seen. */
function unseen(a: VersionVector, b: VersionVector): VersionVector {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(a)) if (value > (b[key] ?? 0)) out[key] = value;
  return out;
}

function isEmpty(version: VersionVector): boolean {
  return Object.keys(version).length === 0;
}

/** Of two records, the one whose `field` stamp is later; ties (never between real changes) go by path, then hash. */
function laterOf(a: Meta, b: Meta, field: 'moved' | 'changed'): Meta {
  const byStamp = compareStamps(a[field], b[field]);
  if (byStamp !== 0) return byStamp > 0 ? a : b;
  if (a.path !== b.path) return a.path > b.path ? a : b;
  return a.hash >= b.hash ? a : b;
}

/**
 * The record of a conflict copy keeping `loser`'s content beside `path`. Its
 * id, name and version derive from the losing version only, so every device
 * that resolves the same conflict creates the same record, and a copy a
 * person already deleted stays deleted (its delete has a later version).
 */
export function conflictCopy(loser: Meta, path: string): Meta {
  // A version enrolled from disk has no change time; its last move (a collision rename) names it then.
  const when = loser.changed.t > 0 ? loser.changed : loser.moved;
  return {
    id: deriveId('conflict-copy', loser.id, loser.hash, String(loser.changed.t), loser.changed.d),
    path: conflictName(path, when),
    kind: loser.kind,
    deleted: false,
    hash: loser.hash,
    size: loser.size,
    changed: loser.changed,
    moved: loser.changed,
    version: {},
    lived: {},
  };
}

/**
 * Of two live files that claim one path (equal ignoring case and Unicode form,
 * or one a folder of the other), the one that gives way: the older by
 * `changed`, then the smaller id. The same on every device.
 */
export function collisionLoser(a: Meta, b: Meta): Meta {
  const byAge = compareStamps(a.changed, b.changed);
  if (byAge !== 0) return byAge < 0 ? a : b;
  return a.id < b.id ? a : b;
}
