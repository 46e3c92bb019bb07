/**
 * The state directory (`--dir`): who may use it, and where its files live.
 * Like ssh with ~/.ssh, a directory, key or peers file that another user owns
 * or can change is refused with the reason, never used silently: whoever
 * controls it could plant a device key (and so be this device) or read one.
 */
import { createHash } from 'node:crypto';
import { realpathSync, type Stats } from 'node:fs';
import { chmod, lstat, mkdir, realpath, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { VaultPeersError } from '../core/errors';

/** The state directory or a file in it is not safe to use; nothing was read or changed. */
export class UnsafeStateError extends VaultPeersError {}

export interface StateDir {
  /** As given, made absolute. */
  readonly dir: string;
  /** Symbolic links resolved: two paths to one directory share it. */
  readonly realDir: string;
  readonly peersPath: string;
  readonly keyPath: string;
  readonly lockPath: string;
  readonly socketPath: string;
}

/** Unix socket paths are limited to about 104 bytes (108 on Linux). */
const MAX_SOCKET_PATH_BYTES = 100;

export function currentUid(): number | null {
  return typeof process.getuid === 'function' ? process.getuid() : null;
}

function mode(st: Stats): string {
  return (st.mode & 0o777).toString(8).padStart(4, '0');
}

/** A directory this user owns and nobody else can change, or an UnsafeStateError saying which and how to fix it. */
export function checkOwnedDirectory(path: string, st: Stats, uid = currentUid()): void {
  if (!st.isDirectory()) throw new UnsafeStateError(`${path} is not a directory. Use --dir with a directory of your own.`);
  if (uid === null) return;
  if (st.uid !== uid) {
    throw new UnsafeStateError(
      `${path} belongs to another user (uid ${st.uid}). It would hold this device's secret key, so only a directory you own is used: pass --dir with one of yours.`,
    );
  }
  if ((st.mode & 0o022) !== 0) {
    throw new UnsafeStateError(`${path} can be changed by other users (mode ${mode(st)}). Run \`chmod 700 ${path}\`, or use another directory.`);
  }
}

/**
 * A file of the state directory: owned by this user and not writable by
 * others; a secret (the device key) also unreadable by others.
 */
export function checkOwnedFile(path: string, st: Stats, secret: boolean, uid = currentUid()): void {
  if (!st.isFile()) throw new UnsafeStateError(`${path} is not a regular file. Move it away.`);
  if (uid === null) return;
  if (st.uid !== uid) {
    throw new UnsafeStateError(`${path} belongs to another user (uid ${st.uid}), so it is not used. If you did not put it there, someone else did: remove it.`);
  }
  if (secret && (st.mode & 0o077) !== 0) {
    throw new UnsafeStateError(`${path} is this device's secret key, and other users can access it (mode ${mode(st)}). Run \`chmod 600 ${path}\`.`);
  }
  if ((st.mode & 0o022) !== 0) {
    throw new UnsafeStateError(`${path} can be changed by other users (mode ${mode(st)}). Run \`chmod 600 ${path}\`.`);
  }
}

/** The file's status (symbolic links followed), or null when there is none. */
export async function statIfExists(path: string): Promise<Stats | null> {
  try {
    return await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * Where this device's control socket lives: in the state directory itself
 * (0700, so only its owner reaches it), or for a path too long for a socket,
 * in a per-user runtime directory checked the same way.
 */
export function controlSocketPath(realDir: string): string {
  const hash = createHash('sha256').update(realDir).digest('hex').slice(0, 16);
  if (process.platform === 'win32') return `\\\\.\\pipe\\vault-peers-${hash}`;
  const inside = join(realDir, 'control.sock');
  if (Buffer.byteLength(inside) <= MAX_SOCKET_PATH_BYTES) return inside;
  return join(runtimeDirectory(), `${hash}.sock`);
}

/** $XDG_RUNTIME_DIR when set (systemd makes it 0700 per user), otherwise a per-user directory in the temporary folder. */
export function runtimeDirectory(): string {
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (xdg && xdg.startsWith('/')) return join(xdg, 'vault-peers');
  return join(tmpdir(), `vault-peers-${currentUid() ?? 'user'}`);
}

/**
 * Creates the runtime directory if needed and checks it: a directory (not a
 * link) of this user that nobody else can enter. In a shared temporary folder
 * another user could have made it first, to catch this user's commands.
 */
export async function ensurePrivateDirectory(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  const st = await lstat(path);
  if (st.isSymbolicLink()) throw new UnsafeStateError(`${path} is a symbolic link; Vault Peers keeps its control socket only in a real directory of yours. Remove it.`);
  checkOwnedDirectory(path, st);
  const uid = currentUid();
  if (uid !== null && (st.mode & 0o077) !== 0) {
    throw new UnsafeStateError(`${path} can be entered by other users (mode ${mode(st)}). Run \`chmod 700 ${path}\`, or remove it.`);
  }
}

function paths(dir: string, realDir: string): StateDir {
  return {
    dir,
    realDir,
    peersPath: join(dir, 'peers.json'),
    keyPath: join(dir, 'device.key'),
    lockPath: join(realDir, 'lock'),
    socketPath: controlSocketPath(realDir),
  };
}

/** The control socket of a state directory, without touching the disk beyond resolving links (for clients and specs). */
export function controlPath(dir: string): string {
  const absolute = resolve(dir);
  let real = absolute;
  try {
    real = realpathSync(absolute);
  } catch {
    // Not there yet: nothing listens on it either.
  }
  return controlSocketPath(real);
}

/**
 * Opens (creating, 0700) the state directory and checks it.
 * @throws UnsafeStateError when another user owns it or can change it
 */
export async function openStateDir(dir: string): Promise<StateDir> {
  const absolute = resolve(dir);
  let st = await statIfExists(absolute);
  if (!st) {
    await mkdir(absolute, { recursive: true, mode: 0o700 });
    // mkdir's mode passes through the umask; a umask of 0 must not leave it open.
    await chmod(absolute, 0o700);
    st = await stat(absolute);
  }
  checkOwnedDirectory(absolute, st);
  const state = paths(absolute, await realpath(absolute));
  const socketDir = dirname(state.socketPath);
  if (process.platform !== 'win32' && socketDir !== state.realDir) await ensurePrivateDirectory(socketDir);
  return state;
}
