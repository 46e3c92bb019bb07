/**
 * Headless peers that sync real folders, as separate processes over iroh on
 * loopback: each with its own state directory and its own vault folder
 * (outside it), paired with plain tickets, and ways to look at both sides.
 * Everything waits for conditions, never for a fixed time.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { lstat, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ConflictsOutput, StatusOutput, SyncPeerRow } from '../../src/cli/commands-sync';
import { HeadlessPeer, eventually } from './headless';

/** A vault folder on disk, with the operations a person (or another program) does on it. */
export class VaultDir {
  constructor(readonly root: string) {}

  at(path: string): string {
    return join(this.root, ...path.split('/'));
  }

  async write(path: string, content: string | Uint8Array): Promise<void> {
    await mkdir(dirname(this.at(path)), { recursive: true });
    await writeFile(this.at(path), content);
  }

  async read(path: string): Promise<string | null> {
    return readFile(this.at(path), 'utf8').catch(() => null);
  }

  async bytes(path: string): Promise<Buffer | null> {
    return readFile(this.at(path)).catch(() => null);
  }

  async move(from: string, to: string): Promise<void> {
    await mkdir(dirname(this.at(to)), { recursive: true });
    await rename(this.at(from), this.at(to));
  }

  async remove(path: string): Promise<void> {
    await rm(this.at(path));
  }

  /** Every file a person sees (hidden ones left out: Vault Peers' own `.vault-peers/` among them), with the SHA-256 of its bytes. */
  async tree(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const walk = async (folder: string, prefix: string): Promise<void> => {
      for (const entry of await readdir(folder, { withFileTypes: true })) {
        if (entry.name.startsWith('.')) continue;
        const path = prefix ? `${prefix}/${entry.name}` : entry.name;
        if (entry.isDirectory()) await walk(join(folder, entry.name), path);
        else out[path] = createHash('sha256').update(await readFile(join(folder, entry.name))).digest('hex');
      }
    };
    await walk(this.root, '');
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  /** Bytes staged for transfers into this vault (`.vault-peers/staging/`), per key. */
  async staged(): Promise<Record<string, number>> {
    const folder = join(this.root, '.vault-peers', 'staging');
    const out: Record<string, number> = {};
    for (const name of await readdir(folder).catch(() => [] as string[])) {
      const info = await lstat(join(folder, name)).catch(() => null);
      if (info?.isFile()) out[name] = info.size;
    }
    return out;
  }

  async stagedTotal(): Promise<number> {
    return Object.values(await this.staged()).reduce((a, b) => a + b, 0);
  }
}

/** A headless peer with a vault. */
export class SyncedPeer extends HeadlessPeer {
  readonly vault: VaultDir;

  constructor(name: string) {
    super(name);
    this.vault = new VaultDir(mkdtempSync(join(tmpdir(), `vp-vault-${name.replace(/[^\w-]/g, '').slice(0, 20)}-`)));
  }

  /** `run --vault <its vault>` (the first time; later starts use the stored one unless `vault` says otherwise). */
  startSyncing(options: { vault?: string | null } = {}): Promise<void> {
    const vault = options.vault === null ? undefined : (options.vault ?? this.vault.root);
    return this.start('127.0.0.1', vault === undefined ? {} : { vault });
  }

  async status(): Promise<StatusOutput> {
    return (await this.commandWith('status', [], { json: true })) as StatusOutput;
  }

  async conflicts(): Promise<ConflictsOutput> {
    return (await this.commandWith('conflicts', [], { json: true })) as ConflictsOutput;
  }

  /** The status row of another device, by name. */
  async syncRow(other: HeadlessPeer): Promise<SyncPeerRow | undefined> {
    return (await this.status()).peers.find((p) => p.name === other.name);
  }

  /** Lines `run` printed that match. */
  lines(pattern: RegExp): string[] {
    return this.output.filter((line) => pattern.test(line));
  }

  override async dispose(): Promise<void> {
    await super.dispose();
    rmSync(this.vault.root, { recursive: true, force: true });
  }
}

/** Peers made through the returned function are disposed (state and vault) after each spec of the calling file. */
export function syncedPeers(): (name: string) => SyncedPeer {
  const made: SyncedPeer[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((p) => p.dispose()));
  });
  return (name) => {
    const created = new SyncedPeer(name);
    made.push(created);
    return created;
  };
}

/** Two devices that have each added the other's ticket (neither running yet). */
export function pair(a: HeadlessPeer, b: HeadlessPeer): void {
  a.join(b);
  b.join(a);
}

/**
 * Waits until both sides see each other in sync (live, nothing waiting either
 * way, nothing left to write) and hold the same files; resolves with the tree.
 */
export async function inSync(a: SyncedPeer, b: SyncedPeer, ms = 60_000): Promise<Record<string, string>> {
  const settled = async (from: SyncedPeer, to: SyncedPeer): Promise<boolean> => {
    const status = await from.status();
    const row = status.peers.find((p) => p.name === to.name);
    return row?.sync === 'live' && row.waiting === 0 && status.here?.files === 0;
  };
  return eventually(
    async () => {
      if (!(await settled(a, b)) || !(await settled(b, a))) return undefined;
      const [treeA, treeB] = await Promise.all([a.vault.tree(), b.vault.tree()]);
      return JSON.stringify(treeA) === JSON.stringify(treeB) ? treeA : undefined;
    },
    ms,
    `${a.name} and ${b.name} in sync`,
  );
}

/** Waits until `path` in the vault holds `content` (text), or satisfies `check`. */
export async function fileIs(peer: SyncedPeer, path: string, expected: string | ((text: string | null) => boolean), ms = 30_000): Promise<string | null> {
  const check = typeof expected === 'string' ? (text: string | null) => text === expected : expected;
  return eventually(
    async () => {
      const text = await peer.vault.read(path);
      return check(text) ? (text ?? 'absent') : undefined;
    },
    ms,
    `${path} on ${peer.name} to be ${typeof expected === 'string' ? JSON.stringify(expected) : 'as expected'}`,
  );
}

/**
 * Watches one path of a vault as often as the event loop allows, recording
 * every moment it held something other than nothing or the whole file
 * (`size` bytes): a partial file a person could open.
 */
export function watchForPartial(vault: VaultDir, path: string, size: number): { stop(): Promise<{ seen: number; partial: number[] }> } {
  let running = true;
  let seen = 0;
  const partial: number[] = [];
  const loop = (async () => {
    while (running) {
      const info = await stat(vault.at(path)).catch(() => null);
      if (info) {
        seen += 1;
        if (info.size !== size) partial.push(info.size);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { seen, partial };
    },
  };
}
