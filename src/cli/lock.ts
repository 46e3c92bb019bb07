/**
 * One writer per state directory. The process that holds the lock is the
 * only one that opens the peers file and the key; every other command talks
 * to it over the control socket, or waits for the lock.
 *
 * The lock is a file created atomically (link(2) of a complete temporary
 * file, so nobody reads half of it) naming its holder. A holder that was
 * killed leaves the file, but not a live process behind it: the next command
 * sees that (the pid is gone, or now belongs to a process started later) and
 * takes the lock over at once, so kill -9 never leaves a directory stuck.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { VaultPeersError } from '../core/errors';

export interface LockOwner {
  readonly pid: number;
  /** When the process started, as the kernel counts it: tells a reused pid from the holder. Empty where unknown. */
  readonly start: string;
  readonly host: string;
  /** The command holding it (`run`, `join`, ...), for messages. */
  readonly command: string;
  readonly since: string;
}

/** The start time of a process (Linux: field 22 of /proc/<pid>/stat), or '' where it cannot be read. */
export function processStart(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function parseOwner(text: string): LockOwner | null {
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    if (typeof value.pid !== 'number' || !Number.isInteger(value.pid) || value.pid <= 0) return null;
    return {
      pid: value.pid,
      start: typeof value.start === 'string' ? value.start : '',
      host: typeof value.host === 'string' ? value.host : '',
      command: typeof value.command === 'string' ? value.command : 'vault-peers',
      since: typeof value.since === 'string' ? value.since : '',
    };
  } catch {
    return null;
  }
}

/** Whether the process named in a lock still runs. On another host (a shared folder) it cannot be known: assumed alive. */
export function isAlive(owner: LockOwner): boolean {
  if (owner.host && owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = processStart(owner.pid);
  return !(owner.start && start && start !== owner.start);
}

async function createDirectly(path: string, text: string): Promise<boolean> {
  try {
    await writeFile(path, text, { mode: 0o600, flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** Creates `path` holding `text`, complete from the first moment; false when it exists. */
export async function createExclusive(path: string, text: string): Promise<boolean> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, text, { mode: 0o600, flag: 'wx' });
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // A file system without hard links: an exclusive create, written at once (a reader may rarely see it empty).
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS') return createDirectly(path, text);
    throw error;
  } finally {
    await rm(temp, { force: true });
  }
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

export class StateLock {
  private released = false;

  constructor(
    readonly path: string,
    private readonly text: string,
  ) {}

  /** Removes the lock if it is still this process's. Idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if ((await readIfExists(this.path)) === this.text) await rm(this.path, { force: true });
  }
}

/**
 * A stale lock is removed under a second, short-lived lock, and only if it
 * still holds what was judged stale: two processes that both saw it dead
 * cannot both remove it and then each other's fresh lock.
 */
async function breakStale(path: string, staleText: string): Promise<void> {
  const takeover = `${path}.takeover`;
  if (!(await createExclusive(takeover, JSON.stringify(ownRecord('takeover'))))) {
    // Someone else is breaking it; if that one was killed in between, its takeover lock is stale too.
    const text = await readIfExists(takeover);
    const owner = text === null ? null : parseOwner(text);
    if (text !== null && (!owner || !isAlive(owner)) && (await readIfExists(takeover)) === text) await rm(takeover, { force: true });
    return;
  }
  try {
    if ((await readIfExists(path)) === staleText) await rm(path, { force: true });
  } finally {
    await rm(takeover, { force: true });
  }
}

function ownRecord(command: string): LockOwner {
  return { pid: process.pid, start: processStart(process.pid), host: hostname(), command, since: new Date().toISOString() };
}

/**
 * Takes the lock of a state directory, or says who holds it.
 * @param command what this process is about to do, for other processes' messages
 */
export async function tryLock(path: string, command: string): Promise<StateLock | { readonly busy: LockOwner }> {
  for (let attempt = 0; attempt < 10; attempt += 1) {
    const text = JSON.stringify(ownRecord(command));
    if (await createExclusive(path, text)) return new StateLock(path, text);
    const held = await readIfExists(path);
    if (held === null) continue;
    const owner = parseOwner(held);
    if (owner && isAlive(owner)) return { busy: owner };
    await breakStale(path, held);
  }
  throw new VaultPeersError(`Could not take the lock ${path}: it keeps changing. Is something else using this directory?`);
}
