import {
  PATH_ABSOLUTE,
  PATH_BACKSLASH,
  PATH_CONFIG,
  PATH_CONTROL,
  PATH_EMPTY,
  PATH_ESCAPES,
  PATH_HIDDEN,
  PATH_NUL,
  PATH_RESERVED,
  PATH_SYNCTHING,
  PATH_TOO_LONG,
  PATH_TRAILING,
  PATH_WINDOWS_CHAR,
} from './messages';
import type { Stamp } from './ports';

/**
 * Which paths may be synced at all, and how they compare. The same rules run
 * on the sending device (a file that breaks them stays local and is listed)
 * and on the receiving one (a peer that sends one anyway is refused), so two
 * well-behaved devices never refuse each other.
 */

export const MAX_PATH_LENGTH = 1024;
export const MAX_NAME_LENGTH = 255;

const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/iu;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0001-\u001f\u007f]/u;
const WINDOWS_CHARS = /[<>:"|?*]/u;

/**
 * Why a path can never be written by the engine, or null if it is safe:
 * inside the folder, portable to Windows, macOS and Linux, and not hidden.
 * Hidden names (a segment starting with `.`) are refused because they hold
 * the config folder, `.git`, `.trash` and tools' state, where a write from
 * another device could change code that runs.
 */
export function unsafePathReason(path: string): string | null {
  if (path.length === 0) return PATH_EMPTY;
  if (path.includes('\u0000')) return PATH_NUL;
  if (path.length > MAX_PATH_LENGTH) return PATH_TOO_LONG;
  if (path.startsWith('/') || /^[a-zA-Z]:/u.test(path)) return PATH_ABSOLUTE;
  if (path.includes('\\')) return PATH_BACKSLASH;
  if (CONTROL.test(path)) return PATH_CONTROL;
  for (const name of path.split('/')) {
    if (name === '' || name === '.' || name === '..') return PATH_ESCAPES;
    if (name.length > MAX_NAME_LENGTH) return PATH_TOO_LONG;
    if (name.startsWith('.')) return PATH_HIDDEN;
    if (WINDOWS_CHARS.test(name)) return PATH_WINDOWS_CHAR;
    if (name.endsWith('.') || name.endsWith(' ')) return PATH_TRAILING;
    if (RESERVED.test(name)) return PATH_RESERVED;
  }
  if (/^~syncthing~.*\.tmp$/u.test(lastName(path))) return PATH_SYNCTHING;
  return null;
}

/** The key two paths collide under: equal ignoring case and Unicode normalisation, as on macOS and Windows. */
export function pathKey(path: string): string {
  return path.normalize('NFC').toLowerCase();
}

export function lastName(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? path : path.slice(slash + 1);
}

export function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/** Every folder above a path, nearest last: `a/b/c.md` gives `a`, `a/b`. */
export function foldersOf(path: string): string[] {
  const names = path.split('/');
  const folders: string[] = [];
  for (let i = 1; i < names.length; i += 1) folders.push(names.slice(0, i).join('/'));
  return folders;
}

/** The extension of a path's last name, lower-case, without the dot ('' if none). */
export function extensionOf(path: string): string {
  const name = lastName(path);
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/* ------------------------------------------------------------------------ */

export interface FilterSettings {
  /** The Obsidian config folder (`vault.configDir`), relative to the root. Never synced. */
  readonly configDir: string;
  /** Extra exclude patterns: `*` within a name, `**` across folders, `?`; a leading `/` anchors at the root; a pattern without `/` matches a name at any depth. */
  readonly exclude: readonly string[];
  /** Files larger than this are not synced (0: no limit). */
  readonly maxFileBytes: number;
  /** Whether files other than notes are synced. */
  readonly attachments: boolean;
  /** Extensions (without the dot) synced as notes: merged through Yjs. */
  readonly noteExtensions: readonly string[];
}

/** What is synced unless a person changed it. The config folder is the host's to say (`vault.configDir`). */
export function defaultFilter(configDir: string): FilterSettings {
  return { configDir, exclude: [], maxFileBytes: 0, attachments: true, noteExtensions: ['md'] };
}

/** A local decision about what this device syncs; unlike `unsafePathReason`, it is not an error for a peer to send such a path. */
export class SyncFilter {
  private readonly patterns: RegExp[];
  private readonly configDir: string;

  constructor(readonly settings: FilterSettings) {
    this.configDir = settings.configDir.replace(/^\/+|\/+$/gu, '');
    this.patterns = settings.exclude.map(globToRegExp);
  }

  /** Why this device does not sync `path`, or null. `size` is checked when known. */
  excludedReason(path: string, size?: number): string | null {
    if (this.configDir && (path === this.configDir || path.startsWith(`${this.configDir}/`))) return PATH_CONFIG;
    if (this.patterns.some((pattern) => pattern.test(path))) return 'it matches an exclude pattern';
    if (!this.settings.attachments && !this.isNoteName(path)) return 'attachments are not synced on this device';
    if (size !== undefined && this.settings.maxFileBytes > 0 && size > this.settings.maxFileBytes) return 'it is larger than the size limit';
    return null;
  }

  /** Whether the engine skips a folder while listing (hidden folders, the config folder, excluded folders). */
  skipsFolder(path: string): boolean {
    return lastName(path).startsWith('.') || this.excludedReason(path) === PATH_CONFIG || this.patterns.some((p) => p.test(path));
  }

  isNoteName(path: string): boolean {
    return this.settings.noteExtensions.includes(extensionOf(path));
  }

  /** Changes when a setting that decides what is synced changes. */
  fingerprint(): string {
    const s = this.settings;
    return JSON.stringify([this.configDir, s.exclude, s.maxFileBytes, s.attachments, s.noteExtensions]);
  }
}

export function globToRegExp(glob: string): RegExp {
  const anchored = glob.startsWith('/');
  const body = glob.replace(/^\/+|\/+$/gu, '');
  let source = '';
  for (let i = 0; i < body.length; i += 1) {
    const c = body[i]!;
    if (c === '*' && body[i + 1] === '*') {
      source += '.*';
      i += 1;
      if (body[i + 1] === '/') i += 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/gu, '\\$&');
  }
  const prefix = anchored || body.includes('/') ? '^' : '^(?:.*/)?';
  return new RegExp(`${prefix}${source}(?:/.*)?$`, 'u');
}

/* ------------------------------------------------------------------------ */

const CONFLICT_INFIX = /\.sync-conflict-\d{8}-\d{6}-[A-Z0-9]{1,16}(?=\.[^./]*$|$)/u;

/**
 * Syncthing's name for a conflict copy: `name.sync-conflict-YYYYMMDD-HHMMSS-DEVICE.ext`,
 * with the time (UTC) and the device of the version the copy keeps.
 */
export function conflictName(path: string, stamp: Stamp): string {
  const date = new Date(stamp.t);
  const two = (n: number): string => String(n).padStart(2, '0');
  const when = `${date.getUTCFullYear()}${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}-${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}`;
  const device = (stamp.d || '0').slice(0, 7).toUpperCase();
  const folder = parentOf(path);
  const name = lastName(path);
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  const copy = `${stem}.sync-conflict-${when}-${device}${ext}`;
  return folder ? `${folder}/${copy}` : copy;
}

/** The file a conflict copy belongs to, or null when `path` is not a conflict copy's name. */
export function conflictOriginal(path: string): string | null {
  const name = lastName(path);
  if (!CONFLICT_INFIX.test(name)) return null;
  const folder = parentOf(path);
  const original = name.replace(CONFLICT_INFIX, '');
  return folder ? `${folder}/${original}` : original;
}
