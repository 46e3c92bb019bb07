import { TFile, TFolder, type App } from 'obsidian';
import type { Observable, SchedulerLike } from 'rxjs';
import { contentHash, webSha256, type Expected, type FileChange, type FileStat, type ListOptions, type Sha256, type VaultFiles, type VaultPath } from '../../sync';
import { hashFileInChunks } from '../../sync/hash';
import type { ByteRanges } from './byte-ranges';
import type { OpenNotes } from './open-notes';
import { Staging } from './staging';
import { checkPath, checkWritable, foldersAbove, hostFailure, parentOf } from './vault-paths';
import { watchVault, type EditTiming } from './vault-watch';

export interface ObsidianVaultFilesOptions {
  readonly app: App;
  readonly notes: OpenNotes;
  /** Part-file reads and writes (Node's `fs` on desktop). */
  readonly ranges: ByteRanges;
  /** The absolute path of a vault path (`FileSystemAdapter.getFullPath`). */
  readonly fullPath: (path: VaultPath) => string;
  /** Vault-relative folder for staged transfers: inside the plugin's own folder. */
  readonly stagingFolder: string;
  readonly sha256?: Sha256;
  readonly scheduler?: SchedulerLike;
  readonly editTiming?: EditTiming;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

function decodeStrict(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * The engine's `VaultFiles` port over an Obsidian vault (see the contract
 * in src/sync/ports.ts):
 *
 * - notes go through the vault API, so Obsidian's caches, links and views
 *   stay right: `vault.create`, `vault.process` (whose callback re-checks
 *   the expected text in the same step as the write), `vault.rename`,
 *   `fileManager.trashFile` (the person's trash setting applies);
 * - a note open in an editor is read from the editor and changed through it
 *   (OpenNotes), never rewritten under it;
 * - attachments arrive staged in the plugin's folder and go in with
 *   `createBinary`/`modifyBinary`;
 * - renames use `vault.rename`, not `fileManager.renameFile`: the device
 *   that renamed already rewrote the links, and those edits arrive as edits
 *   of their own (rewriting them here too would apply each twice).
 *
 * The config folder is never listed and nothing hidden is ever written.
 */
export class ObsidianVaultFiles implements VaultFiles {
  private readonly app: App;
  private readonly notes: OpenNotes;
  private readonly staging: Staging;
  private readonly sha256: Sha256;

  constructor(private readonly options: ObsidianVaultFilesOptions) {
    this.app = options.app;
    this.notes = options.notes;
    this.sha256 = options.sha256 ?? webSha256;
    this.staging = new Staging(options.app.vault.adapter, options.stagingFolder, options.ranges, options.fullPath);
  }

  async list(options?: ListOptions): Promise<FileStat[]> {
    const adapter = this.app.vault.adapter;
    const configDir = this.app.vault.configDir;
    const found: FileStat[] = [];
    // The disk, not Obsidian's cache: a file another program added while Obsidian was closed must be found too.
    const walk = async (folder: string): Promise<void> => {
      const listed = await adapter.list(folder);
      const stats = await Promise.all(listed.files.map(async (path) => ({ path: relative(path), stat: await adapter.stat(relative(path)) })));
      for (const { path, stat } of stats) if (stat?.type === 'file') found.push({ path, size: stat.size, mtime: stat.mtime });
      for (const sub of listed.folders.map(relative)) {
        if (sub === configDir || options?.skipFolder?.(sub)) continue;
        await walk(sub);
      }
    };
    await walk('/');
    return found;
  }

  async stat(path: VaultPath): Promise<FileStat | null> {
    checkPath(path);
    const stat = await this.app.vault.adapter.stat(path);
    return stat?.type === 'file' ? { path, size: stat.size, mtime: stat.mtime } : null;
  }

  async read(path: VaultPath): Promise<Uint8Array | null> {
    checkPath(path);
    const open = this.notes.textOf(path);
    if (open !== null) return encoder.encode(open);
    if ((await this.app.vault.adapter.stat(path))?.type !== 'file') return null;
    return new Uint8Array(await this.app.vault.adapter.readBinary(path));
  }

  readRange(path: VaultPath, offset: number, length: number): Promise<Uint8Array | null> {
    checkPath(path);
    return this.options.ranges.read(this.options.fullPath(path), offset, length);
  }

  async writeText(path: VaultPath, text: string, expected: Expected): Promise<boolean> {
    checkWritable(path);
    if (this.notes.textOf(path) !== null) return this.writeOpenNote(path, text, expected);
    if (expected.kind === 'absent') return this.create(path, () => this.app.vault.create(path, text));
    const stat = await this.app.vault.adapter.stat(path);
    if (stat?.type !== 'file') return false;
    const before = decodeStrict(new Uint8Array(await this.app.vault.adapter.readBinary(path)));
    if (expected.kind === 'text' ? before !== expected.text : !(await this.hashMatches(path, stat.size, expected.hash))) return false;
    if (before === null) return false;
    // Opened meanwhile: the editor owns it now.
    if (this.notes.textOf(path) !== null) return this.writeOpenNote(path, text, expected);
    let written = false;
    const replace = (data: string): string => {
      if (data !== before && data !== before.replace(/^\ufeff/u, '')) return data;
      written = true;
      return text;
    };
    try {
      const file = this.app.vault.getFileByPath(path);
      if (file) await this.app.vault.process(file, replace);
      else await this.app.vault.adapter.process(path, replace);
    } catch (error) {
      throw hostFailure('write', path, error);
    }
    return written;
  }

  async rename(from: VaultPath, to: VaultPath, expected?: Expected): Promise<boolean> {
    checkWritable(from);
    checkWritable(to);
    const adapter = this.app.vault.adapter;
    if (from === to || (await adapter.stat(from))?.type !== 'file') return false;
    if (expected && !(await this.matches(from, expected))) return false;
    if (this.app.vault.getAbstractFileByPath(to) || (await adapter.exists(to))) return false;
    if (!(await this.makeFolders(to))) return false;
    const file = this.app.vault.getAbstractFileByPath(from);
    try {
      if (file instanceof TFile) await this.app.vault.rename(file, to);
      else await adapter.rename(from, to);
    } catch (error) {
      if (await adapter.exists(to)) return false;
      throw hostFailure('move', from, error);
    }
    await this.removeEmptyFolders(parentOf(from));
    return true;
  }

  async remove(path: VaultPath, expected: Expected): Promise<boolean> {
    checkWritable(path);
    const adapter = this.app.vault.adapter;
    const stat = await adapter.stat(path);
    if (!stat) return expected.kind === 'absent';
    if (stat.type !== 'file' || expected.kind === 'absent' || !(await this.matches(path, expected))) return false;
    const file = this.app.vault.getAbstractFileByPath(path);
    try {
      if (file instanceof TFile) await this.app.fileManager.trashFile(file);
      else if (!(await adapter.trashSystem(path))) await adapter.trashLocal(path);
    } catch (error) {
      throw hostFailure('delete', path, error);
    }
    await this.removeEmptyFolders(parentOf(path));
    return true;
  }

  watch(): Observable<FileChange> {
    return watchVault(this.app, this.notes, this.options.scheduler, this.options.editTiming);
  }

  stagedLength(key: string): Promise<number> {
    return this.staging.length(key);
  }

  writeStaged(key: string, offset: number, bytes: Uint8Array): Promise<void> {
    return this.staging.write(key, offset, bytes);
  }

  readStaged(key: string, offset: number, length: number): Promise<Uint8Array> {
    return this.staging.read(key, offset, length);
  }

  async commitStaged(key: string, path: VaultPath, expected: Expected): Promise<boolean> {
    checkWritable(path);
    const bytes = await this.staging.whole(key);
    if (bytes === null) throw new Error(`Nothing is staged under ${key}.`);
    if (!(await this.matches(path, expected))) return false;
    let written: boolean;
    if (expected.kind === 'absent') {
      written = await this.create(path, () => this.app.vault.createBinary(path, bytes));
    } else {
      const file = this.app.vault.getFileByPath(path);
      try {
        if (file) await this.app.vault.modifyBinary(file, bytes);
        else await this.app.vault.adapter.writeBinary(path, bytes);
      } catch (error) {
        throw hostFailure('write', path, error);
      }
      written = true;
    }
    if (written) await this.staging.discard(key);
    return written;
  }

  discardStaged(key: string): Promise<void> {
    return this.staging.discard(key);
  }

  listStaged(): Promise<string[]> {
    return this.staging.keys();
  }

  /** A note open in an editor: compare with its text and change it there. */
  private async writeOpenNote(path: VaultPath, text: string, expected: Expected): Promise<boolean> {
    const before = this.notes.textOf(path);
    if (before === null) return this.writeText(path, text, expected);
    if (expected.kind === 'absent') return false;
    const hashOk = expected.kind === 'hash' && (await contentHash(encoder.encode(before), this.sha256)) === expected.hash;
    const result = this.notes.apply(path, text, (current) => (expected.kind === 'text' ? current === expected.text : hashOk && current === before));
    if (result === 'not-open') return this.writeText(path, text, expected);
    return result === 'applied';
  }

  /** Creates a file with `make` where nothing is, making its folders. */
  private async create(path: VaultPath, make: () => Promise<unknown>): Promise<boolean> {
    if (this.app.vault.getAbstractFileByPath(path) || (await this.app.vault.adapter.exists(path))) return false;
    if (!(await this.makeFolders(path))) return false;
    try {
      await make();
      return true;
    } catch (error) {
      // Something appeared there first (the vault API refuses to overwrite): the belief "absent" failed.
      if (await this.app.vault.adapter.exists(path)) return false;
      throw hostFailure('create', path, error);
    }
  }

  /** Whether `path` still is what `expected` says: an open note by its editor's text, any other file by its bytes. */
  private async matches(path: VaultPath, expected: Expected): Promise<boolean> {
    const open = this.notes.textOf(path);
    if (open !== null) {
      if (expected.kind === 'text') return open === expected.text;
      return expected.kind === 'hash' && (await contentHash(encoder.encode(open), this.sha256)) === expected.hash;
    }
    const stat = await this.app.vault.adapter.stat(path);
    if (!stat) return expected.kind === 'absent';
    if (stat.type !== 'file' || expected.kind === 'absent') return false;
    if (expected.kind === 'hash') return this.hashMatches(path, stat.size, expected.hash);
    return decodeStrict(new Uint8Array(await this.app.vault.adapter.readBinary(path))) === expected.text;
  }

  private async hashMatches(path: VaultPath, size: number, hash: string): Promise<boolean> {
    const full = this.options.fullPath(path);
    const result = await hashFileInChunks((offset, length) => this.options.ranges.read(full, offset, length), size, this.sha256);
    return result?.hash === hash;
  }

  /** Makes the folders above `path`; false when a file stands where one of them should be. */
  private async makeFolders(path: VaultPath): Promise<boolean> {
    for (const folder of foldersAbove(path)) {
      const known = this.app.vault.getAbstractFileByPath(folder);
      if (known instanceof TFolder) continue;
      if (known) return false;
      const stat = await this.app.vault.adapter.stat(folder);
      if (stat?.type === 'file') return false;
      if (stat) continue;
      try {
        await this.app.vault.createFolder(folder);
      } catch (error) {
        if ((await this.app.vault.adapter.stat(folder))?.type !== 'folder') throw hostFailure('create the folder', folder, error);
      }
    }
    return true;
  }

  /** Removes `folder` and the folders above it while they are empty (never the vault itself). */
  private async removeEmptyFolders(folder: VaultPath): Promise<void> {
    const adapter = this.app.vault.adapter;
    for (let at = folder; at !== ''; at = parentOf(at)) {
      const listed = await adapter.list(at).catch(() => null);
      if (!listed || listed.files.length > 0 || listed.folders.length > 0) return;
      const known = this.app.vault.getAbstractFileByPath(at);
      try {
        // Empty (checked on disk, hidden files included), but removed the way the person chose all the same.
        if (known instanceof TFolder) await this.app.fileManager.trashFile(known);
        else await adapter.rmdir(at, false);
      } catch {
        // Something arrived in it meanwhile, or it is in use: it stays.
        return;
      }
    }
  }
}

/** Obsidian lists the root's children without a leading slash; be sure of it. */
function relative(path: string): string {
  return path.replace(/^\/+/u, '');
}
