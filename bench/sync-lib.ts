/**
 * Shared by the sync faults: headless peers syncing real folders (the specs'
 * SyncedPeer, reused as is), what a vault must look like once a fault is
 * over, and readings of a process's handles and memory from /proc.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SyncedPeer, inSync, pair, type VaultDir } from '../spec/support/synced-peers';

export { SyncedPeer, inSync, pair };
export type { VaultDir };

export const log = (line: string): void => void process.stdout.write(`${line}\n`);
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A small deterministic PRNG, so a failing run can be repeated by its seed. */
export function prng(seed: number): () => number {
  let state = Math.imul(seed, 2654435761) >>> 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  for (let i = 0; i < 8; i += 1) next();
  return next;
}

/** Peers made here are disposed (processes killed, folders removed) by `disposeAll`. */
export class Peers {
  private readonly made: SyncedPeer[] = [];
  make(name: string): SyncedPeer {
    const peer = new SyncedPeer(name);
    this.made.push(peer);
    return peer;
  }
  async disposeAll(): Promise<void> {
    await Promise.all(this.made.splice(0).map((p) => p.dispose()));
  }
}

/** Open file descriptors and resident memory of a live process, from /proc. */
export function processUse(pid: number): { fds: number; rssMb: number } {
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { fds, rssMb: Math.round((rssKb / 1024) * 10) / 10 };
}

/** The lowest of a few readings a moment apart: handles that come and go (a socket closing, a file being read) are not growth. */
export async function settledUse(pid: number, samples = 5): Promise<{ fds: number; rssMb: number }> {
  let best = processUse(pid);
  for (let i = 1; i < samples; i += 1) {
    await sleep(100);
    const now = processUse(pid);
    best = { fds: Math.min(best.fds, now.fds), rssMb: Math.min(best.rssMb, now.rssMb) };
  }
  return best;
}

/**
 * What must never be left in a vault once its peer is up and in sync: a
 * temporary file of an atomic write (`.vault-peers-tmp-*`) anywhere, or a
 * staged transfer in `.vault-peers/staging`. Paths relative to the vault.
 */
export async function leftovers(vault: VaultDir): Promise<string[]> {
  const found: string[] = [];
  const walk = async (folder: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true }).catch(() => [])) {
      const path = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.name.startsWith('.vault-peers-tmp-')) found.push(path);
      if (entry.isDirectory() && path !== '.vault-peers') await walk(join(folder, entry.name), path);
    }
  };
  await walk(vault.root, '');
  for (const key of Object.keys(await vault.staged())) found.push(`.vault-peers/staging/${key}`);
  return found;
}

/** Files a generator put in a vault: path → content, to check the synced tree against. */
export type Contents = Map<string, Buffer>;

/** `count` notes of a few hundred bytes in nested folders, and attachments of the given sizes. */
export async function fillVault(vault: VaultDir, tag: string, notes: number, attachments: number[]): Promise<Contents> {
  const written: Contents = new Map();
  for (let i = 0; i < notes; i += 1) {
    const path = `${tag}/folder-${i % 7}/note-${i}.md`;
    const text = Buffer.from(`# ${tag} ${i}\n\n${'Some words of a note. '.repeat(5 + (i % 20))}\n`);
    await vault.write(path, text);
    written.set(path, text);
  }
  for (const [i, size] of attachments.entries()) {
    const path = `${tag}/attachments/file-${i}.bin`;
    const bytes = randomBytes(size);
    await vault.write(path, bytes);
    written.set(path, bytes);
  }
  return written;
}

/** Every generated file is in the vault with exactly its content; returns what is not (empty when all is well). */
export async function missingOrChanged(vault: VaultDir, expected: Contents): Promise<string[]> {
  const wrong: string[] = [];
  for (const [path, bytes] of expected) {
    const found = await vault.bytes(path);
    if (!found) wrong.push(`${path}: missing`);
    else if (!found.equals(bytes)) wrong.push(`${path}: ${found.length} bytes instead of ${bytes.length}, or other bytes`);
  }
  return wrong;
}

/** The state of `other` as `peer` sees it: connected (or syncing) and its sync state. */
export async function rowOf(peer: SyncedPeer, other: SyncedPeer): Promise<{ connected: boolean; live: boolean; waiting: number }> {
  const status = await peer.status();
  const row = status.peers.find((p) => p.name === other.name);
  return {
    connected: row?.status === 'connected' || row?.status === 'syncing',
    live: row?.sync === 'live',
    waiting: (row?.waiting ?? 0) + (status.here?.files ?? 0),
  };
}
