import type { BigIntStats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, lstatSync, openSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { link, lstat, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { hashFileInChunks } from '../sync/hash';
import type { Expected } from '../sync/ports';
import { VaultPathError, errnoOf } from './vault-folder-errors';
import { CREATE_FLAGS, READ_FLAGS, TEMP_PREFIX, type Folder } from './vault-folder-paths';

/**
 * Compare-and-swap on a real folder. POSIX has no "rename if the target is
 * still X", so the check is made as late as it can be and then pinned:
 *
 * - "absent" is exact: the new file is hard-linked to the target name, which
 *   fails if anything is there (then the temporary name is unlinked). On a
 *   volume without hard links (FAT, exFAT, some network shares) it falls
 *   back to lstat-then-rename.
 * - "text"/"hash": the file is read through a descriptor and compared; its
 *   identity (inode and change time, to the nanosecond) is taken before and
 *   after the read, and checked again with `lstat` immediately before the
 *   rename. The window left is between that `lstat` and `rename(2)`, one
 *   system call: a program that rewrites the file in place exactly then
 *   loses that write to the replaced inode.
 */

/** The file a belief was checked against, or null for "absent". */
export interface Identity {
  readonly ino: bigint;
  readonly dev: bigint;
  readonly ctimeNs: bigint;
  /** An append changes it even where the change time is too coarse to tell two writes in one tick apart. */
  readonly size: bigint;
  readonly mode: number;
}

/** An entry of an open folder; `display` is the vault path for messages. */
export interface Place {
  readonly folder: Folder;
  readonly name: string;
  readonly display: string;
}

export type Check = { readonly ok: false } | { readonly ok: true; readonly identity: Identity | null };

const FAILED: Check = { ok: false };

export function identityOf(info: BigIntStats): Identity {
  return { ino: info.ino, dev: info.dev, ctimeNs: info.ctimeNs, size: info.size, mode: Number(info.mode & 0o7777n) };
}

/** lstat that refuses a link and reads a missing entry as null. */
export async function lstatPlace(place: Place): Promise<BigIntStats | null> {
  let info: BigIntStats;
  try {
    info = await lstat(place.folder.child(place.name), { bigint: true });
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
  if (info.isSymbolicLink()) throw new VaultPathError(place.display, 'it is a symbolic link');
  return info;
}

/** Opens a regular file to read it, or null if there is none (a folder, a FIFO or a socket count as none). */
export async function openRegular(place: Place): Promise<{ handle: FileHandle; info: BigIntStats } | null> {
  let handle: FileHandle;
  try {
    handle = await open(place.folder.child(place.name), READ_FLAGS);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENXIO' || code === 'EISDIR') return null;
    if (code === 'ELOOP') throw new VaultPathError(place.display, 'it is a symbolic link');
    throw error;
  }
  const info = await handle.stat({ bigint: true });
  if (!info.isFile()) {
    await handle.close();
    return null;
  }
  return { handle, info };
}

/** Up to `length` bytes at `offset` of an open file (fewer at its end). */
export async function readAt(handle: FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(out, filled, length - filled, offset + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return out.subarray(0, filled);
}

/** Whether `place` holds what `expected` says, and the identity of what it holds. */
export async function check(place: Place, expected: Expected): Promise<Check> {
  if (expected.kind === 'absent') {
    return (await lstatPlace(place)) === null ? { ok: true, identity: null } : FAILED;
  }
  const opened = await openRegular(place);
  if (!opened) return FAILED;
  const { handle, info } = opened;
  try {
    const size = Number(info.size);
    let same: boolean;
    if (expected.kind === 'text') {
      const want = Buffer.from(expected.text, 'utf8');
      same = want.length === size && want.equals(await readAt(handle, 0, size));
    } else {
      const hashed = await hashFileInChunks((offset, length) => readAt(handle, offset, length), size);
      same = hashed?.hash === expected.hash;
    }
    // Written to while we read it: whatever we compared is already stale.
    const after = await handle.stat({ bigint: true });
    if (!same || after.ctimeNs !== info.ctimeNs || after.size !== info.size) return FAILED;
    return { ok: true, identity: identityOf(info) };
  } finally {
    await handle.close();
  }
}

/** Whether `place` still holds the very file `identity` names (null: still nothing). */
export async function unchanged(place: Place, identity: Identity | null): Promise<boolean> {
  const info = await lstatPlace(place);
  if (identity === null || info === null) return identity === null && info === null;
  return sameFile(info, identity);
}

function sameFile(info: BigIntStats, identity: Identity): boolean {
  return info.ino === identity.ino && info.dev === identity.dev && info.ctimeNs === identity.ctimeNs && info.size === identity.size;
}

/** Errors of link(2) that mean "this volume has no hard links", not "the target exists". */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** A new name for a temporary file: `.vault-peers-tmp-<pid>-<random>` (the pid tells start-up whether its writer is gone). */
export function tempName(): string {
  return `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** Creates a temporary file in `folder` holding `bytes`, fsynced, with `mode` when it will replace a file. */
export async function writeTemp(folder: Folder, bytes: Uint8Array | ((handle: FileHandle) => Promise<void>), mode?: number): Promise<Place> {
  const name = tempName();
  const handle = await open(folder.child(name), CREATE_FLAGS, 0o666);
  try {
    if (typeof bytes === 'function') await bytes(handle);
    else await handle.writeFile(bytes);
    if (mode !== undefined) await handle.chmod(mode);
    await handle.datasync();
  } catch (error) {
    await handle.close();
    await unlink(folder.child(name)).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return { folder, name, display: name };
}

/**
 * A copy of the file at `source` as a temporary file in `folder`: for a move
 * onto another volume (a disk mounted inside the vault), where neither link
 * nor rename can cross. Copied a chunk at a time.
 */
export async function copyToTemp(source: Place, folder: Folder, mode?: number): Promise<Place> {
  const opened = await openRegular(source);
  if (!opened) throw Object.assign(new Error(`ENOENT: ${source.display} is gone`), { code: 'ENOENT' });
  try {
    return await writeTemp(
      folder,
      async (target) => {
        for (let offset = 0; ; ) {
          const bytes = await readAt(opened.handle, offset, 1024 * 1024);
          if (bytes.length === 0) break;
          await target.write(bytes, 0, bytes.length, offset);
          offset += bytes.length;
        }
      },
      mode ?? Number(opened.info.mode & 0o7777n),
    );
  } finally {
    await opened.handle.close();
  }
}

/**
 * Moves the file at `source` to `target` if `target` still is what `identity`
 * says (null: nothing there, never overwritten). `source` is gone on success
 * and untouched on failure.
 */
export async function swapIn(source: Place, target: Place, identity: Identity | null, hardLinks: { works: boolean }): Promise<boolean> {
  const from = source.folder.child(source.name);
  const to = target.folder.child(target.name);
  if (identity === null && hardLinks.works) {
    try {
      await link(from, to);
      await unlink(from);
      return true;
    } catch (error) {
      const code = errnoOf(error);
      if (code === 'EEXIST') return false;
      if (!NO_HARD_LINKS.has(code ?? '')) throw error;
      hardLinks.works = false;
    }
  }
  return replaceIfUnchanged(target, identity, () => renameSync(from, to));
}

/**
 * Runs `replace` (a rename over the target, or its unlink) only while `target`
 * still is the file `identity` names. The check and the change are two
 * system calls made back to back on this thread: awaited, they were two
 * trips through libuv's thread pool with the event loop between them, and a
 * program appending to the file in that gap (milliseconds on a busy
 * machine) lost its write to the replaced inode. The fault suite's writers
 * found it.
 */
export function replaceIfUnchanged(target: Place, identity: Identity | null, replace: () => void): boolean {
  let info: BigIntStats | null;
  try {
    info = lstatSync(target.folder.child(target.name), { bigint: true });
  } catch (error) {
    const code = errnoOf(error);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
    info = null;
  }
  if (info?.isSymbolicLink()) throw new VaultPathError(target.display, 'it is a symbolic link');
  const same = identity === null || info === null ? identity === null && info === null : sameFile(info, identity);
  if (!same) return false;
  replace();
  return true;
}

/**
 * A replace that holds the replaced file open: `late()` says what reached it
 * since the check (its whole content then), or null, and lets go of it.
 */
export interface Swapped {
  readonly swapped: boolean;
  readonly late: () => Buffer | null;
}

const NOT_SWAPPED: Swapped = { swapped: false, late: () => null };

/**
 * swapIn over an existing file, noticing a write that reached the old file
 * after its last check: a program that opened it just before the rename
 * writes into the replaced inode. The old file is held open across the
 * rename and looked at again when `late()` is called (after the folder is
 * synced, so a writer that was mid-call has finished); if its size or
 * modification time moved, its content is returned for the caller to put
 * back, so nothing written is lost. (Its change time moves anyway: the
 * rename unlinks it.)
 */
export async function swapInNoting(source: Place, target: Place, identity: Identity | null, hardLinks: { works: boolean }): Promise<Swapped> {
  if (identity === null) {
    const swapped = await swapIn(source, target, null, hardLinks);
    return { swapped, late: () => null };
  }
  const from = source.folder.child(source.name);
  return replaceNoting(target, identity, () => renameSync(from, target.folder.child(target.name)));
}

/** replaceIfUnchanged, with the replaced file held open to see what reached it late (see swapInNoting). */
export function replaceNoting(target: Place, identity: Identity, replace: () => void): Swapped {
  let fd: number;
  try {
    fd = openSync(target.folder.child(target.name), READ_FLAGS);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENXIO') return NOT_SWAPPED;
    throw error;
  }
  let held: BigIntStats;
  try {
    held = fstatSync(fd, { bigint: true });
    if (!sameFile(held, identity) || !replaceIfUnchanged(target, identity, replace)) {
      closeSync(fd);
      return NOT_SWAPPED;
    }
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  let open = true;
  return {
    swapped: true,
    late: () => {
      if (!open) return null;
      open = false;
      try {
        const after = fstatSync(fd, { bigint: true });
        return after.size === held.size && after.mtimeNs === held.mtimeNs ? null : readFileSync(fd);
      } finally {
        closeSync(fd);
      }
    },
  };
}

/** Unlinks `target` if it still is the file `identity` names (see replaceIfUnchanged). */
export function unlinkIfUnchanged(target: Place, identity: Identity): boolean {
  return replaceIfUnchanged(target, identity, () => unlinkSync(target.folder.child(target.name)));
}

/**
 * Moves a file to a new name that must be free, keeping its inode (so an
 * edit racing the move is carried along). With hard links this never
 * overwrites; the old name is unlinked only while it still is the same file,
 * so a file put there meanwhile is kept.
 */
export async function moveNoReplace(source: Place, target: Place, identity: Identity, hardLinks: { works: boolean }): Promise<boolean> {
  const from = source.folder.child(source.name);
  const to = target.folder.child(target.name);
  if (!(await unchanged(source, identity))) return false;
  if (hardLinks.works) {
    let linked = false;
    try {
      await link(from, to);
      linked = true;
    } catch (error) {
      const code = errnoOf(error);
      if (code === 'EEXIST') return caseOnlyRename(source, target, identity);
      if (code === 'EXDEV') return moveAcross(source, target, identity, hardLinks);
      if (!NO_HARD_LINKS.has(code ?? '')) throw error;
      hardLinks.works = false;
    }
    if (linked) {
      const left = await lstatPlace(source);
      if (left && left.ino === identity.ino && left.dev === identity.dev) await unlink(from);
      return true;
    }
  }
  if ((await lstatPlace(target)) !== null) return caseOnlyRename(source, target, identity);
  try {
    await rename(from, to);
  } catch (error) {
    if (errnoOf(error) === 'EXDEV') return moveAcross(source, target, identity, hardLinks);
    throw error;
  }
  return true;
}

/**
 * A move between two volumes: copy to a temporary file beside the target,
 * swap it in (never overwriting), then delete the source while it is still
 * the file that was copied. Not atomic as a whole, but never loses a byte:
 * a crash in between leaves both names.
 */
async function moveAcross(source: Place, target: Place, identity: Identity, hardLinks: { works: boolean }): Promise<boolean> {
  const temp = await copyToTemp(source, target.folder);
  if (!(await swapIn(temp, target, null, hardLinks))) {
    await unlink(temp.folder.child(temp.name));
    return false;
  }
  if (await unchanged(source, identity)) await unlink(source.folder.child(source.name));
  return true;
}

/**
 * On a case-insensitive volume `Note.md` -> `note.md` finds the file itself
 * at the target, and a plain rename is what changes the case. Another name
 * of the same inode elsewhere (a hard link) is a taken target.
 */
async function caseOnlyRename(source: Place, target: Place, identity: Identity): Promise<boolean> {
  const fold = (path: string) => path.normalize('NFC').toLowerCase();
  if (source.display === target.display || fold(source.display) !== fold(target.display)) return false;
  const there = await lstatPlace(target);
  if (!there || there.ino !== identity.ino || there.dev !== identity.dev) return false;
  await rename(source.folder.child(source.name), target.folder.child(target.name));
  return true;
}
