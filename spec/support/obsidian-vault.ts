/**
 * The stand-in's vault: Obsidian's `Vault`, `FileSystemAdapter`,
 * `FileManager`, `TFile`/`TFolder` and `Events`, over a real folder on disk
 * (Obsidian's desktop adapter is Node's `fs` too). Shapes and behaviour
 * follow obsidian.d.ts 1.13; what the real app does that the types do not
 * say is marked "as Obsidian does" or "assumed" below.
 *
 * Obsidian keeps a cache of the vault's files (TFile objects) and updates it
 * from its own calls and from a file watcher. The stand-in has no watcher:
 * a spec that changes the disk "as another program" calls
 * `vault.noticeDiskChange(path)`, which does what the watcher would.
 */
import { constants } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EventRef {
  readonly events: Events;
  readonly name: string;
  readonly callback: (...data: unknown[]) => unknown;
}

export class Events {
  private readonly handlers = new Map<string, EventRef[]>();
  on(name: string, callback: (...data: never[]) => unknown, _ctx?: unknown): EventRef {
    const ref: EventRef = { events: this, name, callback: callback as (...data: unknown[]) => unknown };
    this.handlers.set(name, [...(this.handlers.get(name) ?? []), ref]);
    return ref;
  }
  off(name: string, callback: (...data: never[]) => unknown): void {
    this.handlers.set(name, (this.handlers.get(name) ?? []).filter((ref) => ref.callback !== callback));
  }
  offref(ref: EventRef): void {
    this.handlers.set(ref.name, (this.handlers.get(ref.name) ?? []).filter((r) => r !== ref));
  }
  trigger(name: string, ...data: unknown[]): void {
    for (const ref of this.handlers.get(name) ?? []) ref.callback(...data);
  }
  /** For specs: how many handlers are registered for `name` (unload must leave none of ours). */
  handlerCount(name: string): number {
    return this.handlers.get(name)?.length ?? 0;
  }
}

export abstract class TAbstractFile {
  constructor(
    public vault: Vault,
    public path: string,
    public name: string,
    public parent: TFolder | null,
  ) {}
}

export interface FileStats {
  ctime: number;
  mtime: number;
  size: number;
}

export class TFile extends TAbstractFile {
  stat: FileStats = { ctime: 0, mtime: 0, size: 0 };
  get basename(): string {
    const dot = this.name.lastIndexOf('.');
    return dot > 0 ? this.name.slice(0, dot) : this.name;
  }
  get extension(): string {
    const dot = this.name.lastIndexOf('.');
    return dot > 0 ? this.name.slice(dot + 1) : '';
  }
}

export class TFolder extends TAbstractFile {
  children: TAbstractFile[] = [];
  isRoot(): boolean {
    return this.parent === null;
  }
}

export interface Stat {
  type: 'file' | 'folder';
  ctime: number;
  mtime: number;
  size: number;
}

export interface ListedFiles {
  files: string[];
  folders: string[];
}

const parentPath = (path: string): string => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');
const baseName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);
const toArrayBuffer = (bytes: Uint8Array): ArrayBuffer => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;

/**
 * The desktop DataAdapter over a folder. Paths are vault-relative and
 * normalized (the caller's job, as in Obsidian). Writes are plain
 * `writeFile`s: whether Obsidian's own writes go through a temporary file
 * is not documented, so the stand-in does not assume it.
 */
export class FileSystemAdapter {
  /** Where "Move to system trash" puts things: outside the vault, as the OS trash is. */
  readonly systemTrash: string;

  constructor(private readonly base: string) {
    this.systemTrash = join(tmpdir(), `obsidian-stand-in-trash-${Math.random().toString(16).slice(2)}`);
  }
  getName(): string {
    return baseName(this.base);
  }
  getBasePath(): string {
    return this.base;
  }
  getFullPath(normalizedPath: string): string {
    return join(this.base, ...normalizedPath.split('/').filter((s) => s !== ''));
  }
  async exists(normalizedPath: string): Promise<boolean> {
    return (await this.stat(normalizedPath)) !== null;
  }
  async stat(normalizedPath: string): Promise<Stat | null> {
    try {
      const info = await stat(this.getFullPath(normalizedPath));
      return { type: info.isDirectory() ? 'folder' : 'file', ctime: info.ctimeMs, mtime: info.mtimeMs, size: info.size };
    } catch {
      return null;
    }
  }
  async list(normalizedPath: string): Promise<ListedFiles> {
    const prefix = normalizedPath === '' || normalizedPath === '/' ? '' : `${normalizedPath}/`;
    const entries = await readdir(this.getFullPath(normalizedPath), { withFileTypes: true });
    const listed: ListedFiles = { files: [], folders: [] };
    for (const entry of entries) {
      // As Obsidian's desktop adapter: a link is listed as what it points to.
      const info = entry.isSymbolicLink() ? await stat(join(this.getFullPath(normalizedPath), entry.name)).catch(() => null) : entry;
      if (!info) continue;
      (info.isDirectory() ? listed.folders : listed.files).push(prefix + entry.name);
    }
    return listed;
  }
  read(normalizedPath: string): Promise<string> {
    return readFile(this.getFullPath(normalizedPath), 'utf8');
  }
  async readBinary(normalizedPath: string): Promise<ArrayBuffer> {
    return toArrayBuffer(new Uint8Array(await readFile(this.getFullPath(normalizedPath))));
  }
  async write(normalizedPath: string, data: string): Promise<void> {
    await writeFile(this.getFullPath(normalizedPath), data, 'utf8');
  }
  async writeBinary(normalizedPath: string, data: ArrayBuffer): Promise<void> {
    await writeFile(this.getFullPath(normalizedPath), new Uint8Array(data));
  }
  async append(normalizedPath: string, data: string): Promise<void> {
    await writeFile(this.getFullPath(normalizedPath), data, { flag: 'a' });
  }
  async process(normalizedPath: string, fn: (data: string) => string): Promise<string> {
    const data = fn(await this.read(normalizedPath));
    await this.write(normalizedPath, data);
    return data;
  }
  async mkdir(normalizedPath: string): Promise<void> {
    await mkdir(this.getFullPath(normalizedPath), { recursive: true });
  }
  async remove(normalizedPath: string): Promise<void> {
    await rm(this.getFullPath(normalizedPath));
  }
  async rmdir(normalizedPath: string, recursive: boolean): Promise<void> {
    if (recursive) await rm(this.getFullPath(normalizedPath), { recursive: true });
    else await rmdir(this.getFullPath(normalizedPath));
  }
  async rename(normalizedPath: string, normalizedNewPath: string): Promise<void> {
    if (await this.exists(normalizedNewPath)) throw new Error('Destination file already exists!');
    await rename(this.getFullPath(normalizedPath), this.getFullPath(normalizedNewPath));
  }
  async copy(normalizedPath: string, normalizedNewPath: string): Promise<void> {
    await copyFile(this.getFullPath(normalizedPath), this.getFullPath(normalizedNewPath), constants.COPYFILE_EXCL);
  }
  async trashSystem(normalizedPath: string): Promise<boolean> {
    await mkdir(this.systemTrash, { recursive: true });
    const holder = await mkdtemp(join(this.systemTrash, 'item-'));
    await rename(this.getFullPath(normalizedPath), join(holder, baseName(normalizedPath)));
    return true;
  }
  async trashLocal(normalizedPath: string): Promise<void> {
    await mkdir(this.getFullPath('.trash'), { recursive: true });
    await rename(this.getFullPath(normalizedPath), this.getFullPath(`.trash/${baseName(normalizedPath)}`));
  }
}

/** Obsidian leaves dot-files and dot-folders out of the vault's cache (the adapter still sees them). */
const hiddenInVault = (path: string): boolean => path.split('/').some((name) => name.startsWith('.'));

export class Vault extends Events {
  readonly configDir = '.obsidian';
  private readonly root: TFolder;
  private readonly cache = new Map<string, TAbstractFile>();

  constructor(readonly adapter: FileSystemAdapter) {
    super();
    this.root = new TFolder(this, '/', '', null);
  }

  getName(): string {
    return 'My vault';
  }
  getRoot(): TFolder {
    return this.root;
  }
  getAbstractFileByPath(path: string): TAbstractFile | null {
    if (path === '/' || path === '') return this.root;
    return this.cache.get(path) ?? null;
  }
  getFileByPath(path: string): TFile | null {
    const file = this.getAbstractFileByPath(path);
    return file instanceof TFile ? file : null;
  }
  getFolderByPath(path: string): TFolder | null {
    const folder = this.getAbstractFileByPath(path);
    return folder instanceof TFolder ? folder : null;
  }
  getFiles(): TFile[] {
    return [...this.cache.values()].filter((f): f is TFile => f instanceof TFile);
  }
  getMarkdownFiles(): TFile[] {
    return this.getFiles().filter((f) => f.extension === 'md');
  }
  getAllLoadedFiles(): TAbstractFile[] {
    return [this.root, ...this.cache.values()];
  }

  /** What Obsidian does at start: reads the folder into its cache, with a `create` event for each file and folder. */
  async load(folder = ''): Promise<void> {
    const listed = await this.adapter.list(folder);
    for (const path of [...listed.folders, ...listed.files].sort()) {
      if (hiddenInVault(path)) continue;
      const isFolder = listed.folders.includes(path);
      const entry = await this.remember(path, isFolder);
      this.trigger('create', entry);
      if (isFolder) await this.load(path);
    }
  }

  async create(path: string, data: string): Promise<TFile> {
    await this.assertCreatable(path);
    await this.adapter.write(path, data);
    return this.created(path);
  }
  async createBinary(path: string, data: ArrayBuffer): Promise<TFile> {
    await this.assertCreatable(path);
    await this.adapter.writeBinary(path, data);
    return this.created(path);
  }
  async createFolder(path: string): Promise<TFolder> {
    if (this.getAbstractFileByPath(path) || (await this.adapter.exists(path))) throw new Error('Folder already exists.');
    if (!this.getFolderByPath(parentPath(path) || '/')) throw new Error(`ENOENT: no such folder, ${parentPath(path)}`);
    await this.adapter.mkdir(path);
    const folder = (await this.remember(path, true)) as TFolder;
    this.trigger('create', folder);
    return folder;
  }
  read(file: TFile): Promise<string> {
    return this.adapter.read(file.path);
  }
  cachedRead(file: TFile): Promise<string> {
    return this.adapter.read(file.path);
  }
  readBinary(file: TFile): Promise<ArrayBuffer> {
    return this.adapter.readBinary(file.path);
  }
  async modify(file: TFile, data: string): Promise<void> {
    await this.adapter.write(file.path, data);
    await this.modified(file);
  }
  async modifyBinary(file: TFile, data: ArrayBuffer): Promise<void> {
    await this.adapter.writeBinary(file.path, data);
    await this.modified(file);
  }
  /** As Obsidian's: read, change, write in one step; a callback that returns the text unchanged writes nothing (assumed). */
  async process(file: TFile, fn: (data: string) => string): Promise<string> {
    const data = await this.adapter.read(file.path);
    const next = fn(data);
    if (next !== data) {
      await this.adapter.write(file.path, next);
      await this.modified(file);
    }
    return next;
  }
  async rename(file: TAbstractFile, newPath: string): Promise<void> {
    if (this.getAbstractFileByPath(newPath) || (await this.adapter.exists(newPath))) throw new Error('Destination file already exists!');
    const parent = this.getFolderByPath(parentPath(newPath) || '/');
    if (!parent) throw new Error(`ENOENT: no such folder, ${parentPath(newPath)}`);
    await this.adapter.rename(file.path, newPath);
    const moves: [TAbstractFile, string][] = [];
    const move = (entry: TAbstractFile, to: string): void => {
      moves.push([entry, entry.path]);
      this.cache.delete(entry.path);
      entry.path = to;
      entry.name = baseName(to);
      this.cache.set(to, entry);
      if (entry instanceof TFolder) for (const child of entry.children) move(child, `${to}/${child.name}`);
    };
    this.detach(file);
    move(file, newPath);
    file.parent = parent;
    parent.children.push(file);
    // As Obsidian does: one `rename` for the item and one for each thing inside a moved folder, with its old path.
    for (const [entry, oldPath] of moves) this.trigger('rename', entry, oldPath);
  }
  async delete(file: TAbstractFile): Promise<void> {
    if (file instanceof TFolder) await this.adapter.rmdir(file.path, true);
    else await this.adapter.remove(file.path);
    this.forget(file);
  }
  async trash(file: TAbstractFile, system: boolean): Promise<void> {
    if (!(system && (await this.adapter.trashSystem(file.path)))) await this.adapter.trashLocal(file.path);
    this.forget(file);
  }

  /**
   * What Obsidian's file watcher does when another program changed `path`:
   * the cache learns of it and `create`, `modify` or `delete` is triggered.
   */
  async noticeDiskChange(path: string): Promise<void> {
    if (hiddenInVault(path)) return;
    const info = await this.adapter.stat(path);
    const known = this.getAbstractFileByPath(path);
    if (!info) {
      if (known) this.forget(known);
      return;
    }
    if (known instanceof TFile && info.type === 'file') {
      await this.modified(known);
      return;
    }
    const parent = parentPath(path);
    if (parent && !this.getAbstractFileByPath(parent)) await this.noticeDiskChange(parent);
    if (!known) {
      const entry = await this.remember(path, info.type === 'folder');
      this.trigger('create', entry);
      if (info.type === 'folder') await this.load(path);
    }
  }

  private async assertCreatable(path: string): Promise<void> {
    if (this.getAbstractFileByPath(path) || (await this.adapter.exists(path))) throw new Error('File already exists.');
    if (!this.getFolderByPath(parentPath(path) || '/')) throw new Error(`ENOENT: no such folder, ${parentPath(path)}`);
  }

  private async created(path: string): Promise<TFile> {
    const file = (await this.remember(path, false)) as TFile;
    this.trigger('create', file);
    return file;
  }

  private async modified(file: TFile): Promise<void> {
    const info = await this.adapter.stat(file.path);
    if (info) file.stat = { ctime: info.ctime, mtime: info.mtime, size: info.size };
    this.trigger('modify', file);
  }

  private async remember(path: string, isFolder: boolean): Promise<TAbstractFile> {
    const parent = this.getFolderByPath(parentPath(path) || '/') ?? this.root;
    const entry = isFolder ? new TFolder(this, path, baseName(path), parent) : new TFile(this, path, baseName(path), parent);
    if (entry instanceof TFile) {
      const info = await this.adapter.stat(path);
      if (info) entry.stat = { ctime: info.ctime, mtime: info.mtime, size: info.size };
    }
    this.cache.set(path, entry);
    parent.children.push(entry);
    return entry;
  }

  private detach(entry: TAbstractFile): void {
    if (entry.parent) entry.parent.children = entry.parent.children.filter((c) => c !== entry);
  }

  private forget(entry: TAbstractFile): void {
    this.detach(entry);
    const drop = (e: TAbstractFile): void => {
      this.cache.delete(e.path);
      if (e instanceof TFolder) for (const child of e.children) drop(child);
    };
    drop(entry);
    this.trigger('delete', entry);
  }
}

/** Where deleted files go, as set in Obsidian's "Files and links" settings. */
export type TrashOption = 'system' | 'local' | 'none';

export class FileManager {
  /** "Deleted files": the system trash by default, as in Obsidian. */
  trashOption: TrashOption = 'system';
  constructor(private readonly vault: Vault) {}
  async trashFile(file: TAbstractFile): Promise<void> {
    if (this.trashOption === 'none') await this.vault.delete(file);
    else await this.vault.trash(file, this.trashOption === 'system');
  }
  /** Obsidian also rewrites links to the file here; the stand-in has no link index, so it only renames. */
  renameFile(file: TAbstractFile, newPath: string): Promise<void> {
    return this.vault.rename(file, newPath);
  }
}

