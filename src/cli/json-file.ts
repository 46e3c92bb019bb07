/**
 * The peers document as a JSON file (peers.json), with data.json's shape.
 * Written atomically through a temporary file beside it; a symbolic link
 * stays a link (its target is replaced, not the link); temporary files left
 * by a killed process are removed by the next one to hold the directory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, lstat, readFile, readdir, readlink, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { StorageError, errorMessage } from '../core/errors';
import type { PeerStorage } from '../core/ports';
import { checkOwnedFile, statIfExists } from './state-dir';

const BOM = [0xef, 0xbb, 0xbf];

/** What a symbolic link at `path` points to (following chains), or `path` itself. Works for a link whose target is missing. */
export async function writeTarget(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  let current = path;
  for (let hops = 0; hops < 40; hops += 1) {
    try {
      const st = await lstat(current);
      if (!st.isSymbolicLink()) return current;
      current = resolve(dirname(current), await readlink(current));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return current;
      throw error;
    }
  }
  throw new StorageError(`${path} is a chain of symbolic links that does not end.`);
}

function temporaryName(target: string): string {
  return `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

/** Temporary files this module writes beside `target`: `<name>.<pid>.<8 hex>.tmp`. */
function isTemporaryOf(target: string, file: string): boolean {
  const name = basename(target);
  return file.startsWith(`${name}.`) && /^\.\d+\.[0-9a-f]{8}\.tmp$/.test(file.slice(name.length));
}

/** Writes a file so that a crash leaves either the old or the new content, never half of one; a link stays a link. */
export async function writeFileAtomic(path: string, text: string, mode = 0o600): Promise<void> {
  const target = await writeTarget(path);
  const temp = temporaryName(target);
  try {
    await writeFile(temp, text, { mode, flush: true, flag: 'wx' });
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Removes the temporary files a killed writer left beside `path` (and beside its link target). Call only while holding the directory. */
export async function removeTemporaryFiles(path: string): Promise<string[]> {
  const removed: string[] = [];
  for (const target of new Set([path, await writeTarget(path)])) {
    let files: string[];
    try {
      files = await readdir(dirname(target));
    } catch {
      continue;
    }
    for (const file of files.filter((f) => isTemporaryOf(target, f))) {
      await rm(join(dirname(target), file), { force: true });
      removed.push(join(dirname(target), file));
    }
  }
  return removed;
}

/**
 * Decodes the file's bytes: a UTF-8 byte-order mark is skipped; bytes that
 * are not UTF-8 are refused rather than replaced, since saving the replaced
 * text would lose what they were.
 */
export function decodeDocumentText(path: string, bytes: Uint8Array): string {
  const start = BOM.every((byte, i) => bytes[i] === byte) ? BOM.length : 0;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start));
  } catch {
    throw new StorageError(`${path} is not UTF-8 text (it may be damaged, or saved in another encoding). Fix or move it away; it was not changed.`);
  }
}

/** The peers document as a JSON file, same shape as the plugin's data.json. */
export class JsonFileStorage implements PeerStorage {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {}

  async load(): Promise<unknown> {
    const st = await statIfExists(this.path);
    if (!st) return null;
    checkOwnedFile(this.path, st, false);
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path);
    } catch (error) {
      throw new StorageError(`${this.path} could not be read: ${errorMessage(error)}`);
    }
    const text = decodeDocumentText(this.path, bytes);
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new StorageError(`${this.path} is not valid JSON (${errorMessage(error)}). Fix or move it away; it was not changed.`);
    }
  }

  save(document: Record<string, unknown>): Promise<void> {
    return this.enqueue(() => this.write(document));
  }

  /**
   * Reads, changes and writes the document in one step of the one queue that
   * every write of this process goes through (the peer manager's saves and the
   * settings), so no write undoes another.
   */
  update(change: (document: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
    return this.enqueue(async () => {
      const current = await this.load();
      if (current !== null && (typeof current !== 'object' || Array.isArray(current))) {
        throw new StorageError(`${this.path} does not hold an object; it was not overwritten.`);
      }
      await this.write(change((current as Record<string, unknown> | null) ?? {}));
    });
  }

  /** Copies the file as it is to `<file>.damaged-<hash>` beside it: one copy per distinct content, however often it loads. */
  async backup(): Promise<string | null> {
    let bytes: Buffer;
    const target = await writeTarget(this.path);
    try {
      bytes = await readFile(target);
    } catch {
      return null;
    }
    const copy = `${target}.damaged-${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}`;
    await copyFile(target, copy);
    return copy;
  }

  private write(document: Record<string, unknown>): Promise<void> {
    return writeFileAtomic(this.path, `${JSON.stringify(document, null, 2)}\n`);
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.queue.then(step);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
