import { createHash } from 'node:crypto';
import { Observable, Subject } from 'rxjs';
import { CHUNK_BYTES } from '../../src/sync/hash';
import type { Expected, FileChange, FileStat, ListOptions, VaultFiles } from '../../src/sync/ports';

/**
 * A synced folder in memory, for specs. It behaves like the Node adapter
 * will: atomic compare-and-swap writes, staged files that survive a
 * "restart" (the same object handed to a new engine), watch events for every
 * change including the engine's own writes, and a delete plus a create for a
 * move (`renames: 'events'`, as a Node watcher reports it) or one `renamed`
 * event (`renames: 'host'`, as Obsidian does). Every path it is handed is
 * checked: one that would leave the folder is recorded in `violations`.
 */

interface StoredFile {
  readonly path: string;
  readonly bytes: Uint8Array;
  readonly mtime: number;
}

export interface MemoryVaultOptions {
  readonly renames?: 'events' | 'host';
  /** Paths equal ignoring case are one file, as on macOS and Windows. */
  readonly caseInsensitive?: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

export class MemoryVault implements VaultFiles {
  private readonly files = new Map<string, StoredFile>();
  private readonly staged = new Map<string, Uint8Array>();
  private readonly events = new Subject<FileChange>();
  private clock = 1_000;
  /** Paths that would have left the folder. Specs expect none. */
  readonly violations: string[] = [];
  /** Every path the engine wrote, removed or moved onto, in order. */
  readonly engineWrites: string[] = [];
  watchers = 0;
  /** Called before each engine write takes effect, to race it with a "user" edit. */
  beforeEngineWrite: ((path: string) => void) | null = null;
  /** Called after each engine write took effect (specs snapshot a crash there). */
  afterEngineWrite: ((path: string) => void) | null = null;
  /** Makes the next engine write fail as a full disk would. */
  failWrites: Error | null = null;

  constructor(private readonly options: MemoryVaultOptions = {}) {}

  /* ---- what a person or another program does ---- */

  /** Writes a file as a person would (text or bytes). */
  put(path: string, content: string | Uint8Array): void {
    if (process.env.VAULT_TRACE) this.trace.push(`user put ${path}`);
    const existed = this.files.has(this.key(path));
    this.store(path, typeof content === 'string' ? encoder.encode(content) : content);
    this.events.next({ type: existed ? 'modified' : 'created', path });
  }

  delete(path: string): void {
    if (process.env.VAULT_TRACE) this.trace.push(`user delete ${path}`);
    if (this.files.delete(this.key(path))) this.events.next({ type: 'deleted', path });
  }

  move(from: string, to: string): void {
    const file = this.files.get(this.key(from));
    if (!file || this.files.has(this.key(to))) throw new Error(`cannot move ${from} to ${to}`);
    this.files.delete(this.key(from));
    this.files.set(this.key(to), { ...file, path: to });
    this.emitMove(from, to);
  }

  /** Moves every file under a folder, as one folder rename (a Node watcher reports just the folder). */
  moveFolder(from: string, to: string): void {
    for (const file of [...this.files.values()]) {
      if (file.path.startsWith(`${from}/`)) {
        this.files.delete(this.key(file.path));
        const path = to + file.path.slice(from.length);
        this.files.set(this.key(path), { ...file, path });
      }
    }
    this.emitMove(from, to);
  }

  text(path: string): string | undefined {
    const file = this.files.get(this.key(path));
    return file ? decoder.decode(file.bytes) : undefined;
  }

  bytes(path: string): Uint8Array | undefined {
    return this.files.get(this.key(path))?.bytes;
  }

  paths(): string[] {
    return [...this.files.values()].map((f) => f.path).sort();
  }

  /** Path → content (text for notes, `bytes:<hash>` otherwise), for comparing trees. */
  tree(): Promise<Record<string, string>> {
    const tree: Record<string, string> = {};
    for (const file of [...this.files.values()].sort((x, y) => (x.path < y.path ? -1 : 1))) {
      tree[file.path] = file.path.endsWith('.md') ? decoder.decode(file.bytes) : `bytes:${syncContentHash(file.bytes)}`;
    }
    return Promise.resolve(tree);
  }

  /** A copy of the folder and its staging as they are now (what a crash leaves on disk). */
  clone(): MemoryVault {
    const copy = new MemoryVault(this.options);
    for (const [key, file] of this.files) copy.files.set(key, file);
    for (const [key, bytes] of this.staged) copy.staged.set(key, bytes.slice());
    copy.clock = this.clock;
    return copy;
  }

  stagedKeys(): string[] {
    return [...this.staged.keys()];
  }

  /* ---- the port ---- */

  list(options: ListOptions = {}): Promise<FileStat[]> {
    const skipped = (path: string): boolean => {
      const names = path.split('/');
      for (let i = 1; i < names.length; i += 1) if (options.skipFolder?.(names.slice(0, i).join('/'))) return true;
      return false;
    };
    return Promise.resolve([...this.files.values()].filter((f) => !skipped(f.path)).map((f) => this.statOf(f)));
  }

  stat(path: string): Promise<FileStat | null> {
    this.guard(path);
    const file = this.files.get(this.key(path));
    return Promise.resolve(file ? this.statOf(file) : null);
  }

  read(path: string): Promise<Uint8Array | null> {
    this.guard(path);
    return Promise.resolve(this.files.get(this.key(path))?.bytes.slice() ?? null);
  }

  readRange(path: string, offset: number, length: number): Promise<Uint8Array | null> {
    this.guard(path);
    const file = this.files.get(this.key(path));
    return Promise.resolve(file ? file.bytes.slice(offset, offset + length) : null);
  }

  writeText(path: string, text: string, expected: Expected): Promise<boolean> {
    return this.atomically(() => this.writeTextNow(path, text, expected));
  }

  private writeTextNow(path: string, text: string, expected: Expected): boolean {
    this.guard(path);
    this.beforeEngineWrite?.(path);
    if (!this.matches(path, expected)) return false;
    const existed = this.files.has(this.key(path));
    this.engineWrite(path, () => this.store(path, encoder.encode(text)));
    this.events.next({ type: existed ? 'modified' : 'created', path });
    return true;
  }

  rename(from: string, to: string, expected?: Expected): Promise<boolean> {
    return this.atomically(() => this.renameNow(from, to, expected));
  }

  private renameNow(from: string, to: string, expected?: Expected): boolean {
    if (process.env.VAULT_TRACE) this.trace.push(`engine rename ${from} -> ${to}`);
    this.guard(from);
    this.guard(to);
    this.beforeEngineWrite?.(to);
    const file = this.files.get(this.key(from));
    if (!file || (this.files.has(this.key(to)) && this.key(to) !== this.key(from))) return false;
    if (expected && !this.matches(from, expected)) return false;
    this.engineWrite(to, () => {
      this.files.delete(this.key(from));
      this.files.set(this.key(to), { ...file, path: to });
    });
    this.emitMove(from, to);
    return true;
  }

  remove(path: string, expected: Expected): Promise<boolean> {
    return this.atomically(() => this.removeNow(path, expected));
  }

  private removeNow(path: string, expected: Expected): boolean {
    this.guard(path);
    this.beforeEngineWrite?.(path);
    if (!this.matches(path, expected)) return false;
    if (!this.files.has(this.key(path))) return true;
    this.engineWrite(path, () => this.files.delete(this.key(path)));
    this.events.next({ type: 'deleted', path });
    return true;
  }

  watch(): Observable<FileChange> {
    return new Observable<FileChange>((subscriber) => {
      this.watchers += 1;
      const subscription = this.events.subscribe(subscriber);
      return () => {
        this.watchers -= 1;
        subscription.unsubscribe();
      };
    });
  }

  stagedLength(key: string): Promise<number> {
    return Promise.resolve(this.staged.get(key)?.length ?? 0);
  }

  writeStaged(key: string, offset: number, bytes: Uint8Array): Promise<void> {
    if (process.env.VAULT_TRACE) this.trace.push(`stage ${key.slice(0, 6)} @${offset} +${bytes.length}`);
    if (this.failWrites) return Promise.reject(this.failWrites);
    const old = this.staged.get(key) ?? new Uint8Array(0);
    const next = new Uint8Array(offset + bytes.length);
    next.set(old.subarray(0, Math.min(offset, old.length)));
    next.set(bytes, offset);
    this.staged.set(key, next);
    this.afterEngineWrite?.(`staging:${key}`);
    return Promise.resolve();
  }

  readStaged(key: string, offset: number, length: number): Promise<Uint8Array> {
    return Promise.resolve((this.staged.get(key) ?? new Uint8Array(0)).slice(offset, offset + length));
  }

  commitStaged(key: string, path: string, expected: Expected): Promise<boolean> {
    return this.atomically(() => this.commitStagedNow(key, path, expected));
  }

  private commitStagedNow(key: string, path: string, expected: Expected): boolean {
    if (process.env.VAULT_TRACE) this.trace.push(`engine commit ${key.slice(0, 6)} -> ${path} ${JSON.stringify(expected).slice(0, 40)}`);
    this.guard(path);
    this.beforeEngineWrite?.(path);
    const bytes = this.staged.get(key);
    if (!bytes) throw new Error(`nothing staged under ${key}`);
    if (!this.matches(path, expected)) return false;
    const existed = this.files.has(this.key(path));
    this.engineWrite(path, () => {
      this.staged.delete(key);
      this.store(path, bytes);
    });
    this.events.next({ type: existed ? 'modified' : 'created', path });
    return true;
  }

  discardStaged(key: string): Promise<void> {
    if (process.env.VAULT_TRACE) this.trace.push(`discard ${key.slice(0, 6)}`);
    this.staged.delete(key);
    return Promise.resolve();
  }

  listStaged(): Promise<string[]> {
    return Promise.resolve([...this.staged.keys()]);
  }

  /* ---- inside ---- */

  private key(path: string): string {
    return this.options.caseInsensitive ? path.normalize('NFC').toLowerCase() : path;
  }

  private statOf(file: StoredFile): FileStat {
    return { path: file.path, size: file.bytes.length, mtime: file.mtime };
  }

  private store(path: string, bytes: Uint8Array): void {
    this.clock += 1;
    const existing = this.files.get(this.key(path));
    this.files.set(this.key(path), { path: existing?.path ?? path, bytes: bytes.slice(), mtime: this.clock });
  }

  private engineWrite(path: string, write: () => void): void {
    if (this.failWrites) throw this.failWrites;
    this.engineWrites.push(path);
    write();
    this.afterEngineWrite?.(path);
    if (process.env.VAULT_TRACE) this.trace.push(`engine ${path} ${this.paths().join(',')}`);
  }

  /** With VAULT_TRACE set: each change and the paths after it, for diagnosing a failing spec. */
  readonly trace: string[] = [];

  /** Check and write in one step, as the port requires: nothing can change the file in between. */
  private atomically(step: () => boolean): Promise<boolean> {
    try {
      return Promise.resolve(step());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private matches(path: string, expected: Expected): boolean {
    const file = this.files.get(this.key(path));
    if (expected.kind === 'absent') return !file;
    if (!file) return false;
    if (expected.kind === 'text') return decoder.decode(file.bytes) === expected.text;
    return syncContentHash(file.bytes) === expected.hash;
  }

  private emitMove(from: string, to: string): void {
    if (this.options.renames === 'host') {
      this.events.next({ type: 'renamed', path: to, from });
    } else {
      this.events.next({ type: 'deleted', path: from });
      this.events.next({ type: 'created', path: to });
    }
  }

  private guard(path: string): void {
    const bad = path === '' || path.startsWith('/') || /^[a-zA-Z]:/u.test(path) || path.includes('\\') || path.includes('\u0000') || path.split('/').some((n) => n === '' || n === '.' || n === '..');
    if (bad) {
      this.violations.push(path);
      throw new Error(`path outside the folder: ${JSON.stringify(path)}`);
    }
  }
}

/** `contentHash` computed synchronously (node:crypto), so a compare-and-swap here is one step. */
export function syncContentHash(bytes: Uint8Array): string {
  const list = createHash('sha256');
  for (let offset = 0; offset < bytes.length; offset += CHUNK_BYTES) list.update(createHash('sha256').update(bytes.subarray(offset, offset + CHUNK_BYTES)).digest());
  return list.digest('hex');
}
