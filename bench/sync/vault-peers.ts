/**
 * Vault Peers' headless peer behind the harness's SyncTool, driven only
 * through its command line, each command a separate process in its peer's
 * namespace:
 *
 *   node dist/cli/vault-peers.js <command> --dir STATE --relay disabled --bind IP:PORT --device-name NAME
 *
 *   run [--vault DIR]   stays up; one line per status change ("... Beta (abcd…) connected")
 *   invite              asks the running `run` for a VP1… invite and waits for the joiner
 *   join <invite>       pairs (opens its own endpoint when no `run` is up)
 *   status --json       { here: { files }, peers: [{ name, status, sync, waiting, lastSyncAt, ... }] } through the running peer
 *
 * The command lines are in `COMMANDS`, what a status line looks like in
 * `CONNECTED`/`GONE`, and what "in sync" means in `inSync`. `withVault:
 * false` runs plain `run` (the outage scenario uses it).
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Link } from './netns';
import { ToolProcess, runCommand } from './process';
import type { Peer, SideName, SyncTool, ToolInfo } from './tool';

/** The repository root, from bench/sync (ts) or dist/bench/sync (bundled). */
export function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** The built headless peer; VAULT_PEERS_CLI points the bench at another build (another checkout's dist/cli/vault-peers.js). */
const execFileAsync = promisify(execFile);
const CLI = process.env.VAULT_PEERS_CLI ?? join(repoRoot(), 'dist', 'cli', 'vault-peers.js');
const PORT = 47_100;
const NAMES: Record<SideName, string> = { a: 'Alpha', b: 'Beta' };
const other = (peer: Peer): string => NAMES[peer.name === 'a' ? 'b' : 'a'];

const COMMANDS = {
  common: (peer: Peer): string[] => ['--dir', peer.home, '--relay', 'disabled', '--bind', `${peer.side.address}:${PORT}`, '--device-name', NAMES[peer.name]],
  run: (peer: Peer, withVault: boolean): string[] => ['run', ...(withVault ? ['--vault', peer.vault] : [])],
  invite: (): string[] => ['invite'],
  join: (invite: string, inviterName: string): string[] => ['join', invite, '--name', inviterName],
  status: (): string[] => ['status', '--json'],
};

/** "HH:MM:SS Beta (abcd…) connected" (or syncing): the other peer is up. */
const CONNECTED = (name: string): RegExp => new RegExp(`\\b${name}\\b.*\\s(connected|syncing)\\b`);
/** "... Beta (abcd…) disconnected (reason)" or "connecting": the other peer is gone. */
const GONE = (name: string): RegExp => new RegExp(`\\b${name}\\b.*\\s(disconnected|connecting)\\b`);

/** The parts of `status --json` (src/cli/commands-sync.ts, StatusOutput) the bench reads. */
interface StatusRow {
  readonly name: string;
  readonly status: string;
  readonly sync: string | null;
  readonly waiting: number | null;
  readonly lastSyncAt: string | null;
}
interface Status {
  readonly here: { readonly files: number } | null;
  readonly peers: readonly StatusRow[];
}

/**
 * One side is in sync with the other: connected, the engine live with it
 * (nothing being caught up), none of this side's changes waiting for it,
 * nothing left to write here, and a sync finished after `sinceWall` (so a
 * state from before a restart does not count).
 */
function inSync(status: Status | null, row: StatusRow | undefined, sinceWall: number): boolean {
  return (
    status !== null &&
    status.here?.files === 0 &&
    row !== undefined &&
    row.status === 'connected' &&
    row.sync === 'live' &&
    row.waiting === 0 &&
    row.lastSyncAt !== null &&
    Date.parse(row.lastSyncAt) >= sinceWall
  );
}

const describe = (status: Status | null, row: StatusRow | undefined): string =>
  status === null ? 'no answer' : `${row?.status}/${row?.sync}, ${row?.waiting} waiting, ${status.here?.files} to write here, synced ${row?.lastSyncAt}`;

export class VaultPeers implements SyncTool {
  readonly info: ToolInfo;
  readonly watcherDelays = [null] as const;
  /** Issue 11: conflict copies are named like Syncthing's. */
  readonly conflictPattern = /\.sync-conflict-\d{8}-\d{6}-/;
  private readonly processes = new Map<string, ToolProcess>();

  constructor(
    private readonly link: Link,
    private readonly logFile: string,
    private readonly withVault = true,
  ) {
    const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string };
    this.info = {
      id: 'vault-peers',
      label: 'Vault Peers',
      version: pkg.version,
      settings: ['headless peer (`vault-peers run --vault`), relays disabled, bound to the link address; defaults otherwise'],
    };
  }

  /** True when the built CLI knows `run --vault` (so the sync figures can run). */
  static supportsVault(): boolean {
    if (!existsSync(CLI)) return false;
    const help = spawnSync(process.execPath, [CLI, 'run', '--help'], { encoding: 'utf8' });
    return `${help.stdout}${help.stderr}`.includes('--vault');
  }

  private argv(peer: Peer, args: string[]): string[] {
    return this.link.exec(peer.side, [process.execPath, CLI, ...args, ...COMMANDS.common(peer)]);
  }

  /** Pairs the two with a one-time invite, as a person would, then stops both: nothing is synced yet. */
  async prepare(a: Peer, b: Peer): Promise<void> {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`node esbuild.config.mjs cli\` first.`);
    for (const peer of [a, b]) {
      rmSync(peer.home, { recursive: true, force: true });
      mkdirSync(peer.home, { recursive: true });
    }
    const inviter = new ToolProcess('vault-peers a (pairing)', this.argv(a, COMMANDS.run(a, false)), this.logFile);
    try {
      await inviter.waitForLine((t) => / is online on /.test(t), 30_000, 0, 'online line');
      const invite = new ToolProcess('vault-peers invite', this.argv(a, COMMANDS.invite()), this.logFile);
      const text = /vault-peers join (VP1\S+)/.exec((await invite.waitForLine((t) => /vault-peers join VP1/.test(t), 30_000, 0, 'invite')).text)![1]!;
      runCommand(this.argv(b, COMMANDS.join(text, NAMES.a)), this.logFile, 60_000);
      await invite.waitForLine((t) => /Paired with/.test(t), 30_000, 0, '"Paired with"').catch(() => undefined);
      await invite.stop('SIGTERM', 5_000);
    } finally {
      await inviter.stop();
    }
  }

  async start(peer: Peer): Promise<ToolProcess> {
    if (this.processes.get(peer.home)?.running) throw new Error(`vault-peers ${peer.name} is already running`);
    const proc = new ToolProcess(`vault-peers ${peer.name}`, this.argv(peer, COMMANDS.run(peer, this.withVault)), this.logFile);
    this.processes.set(peer.home, proc);
    return proc;
  }

  async stop(peer: Peer, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.processes.get(peer.home)?.stop(signal);
    this.processes.delete(peer.home);
  }

  process(peer: Peer): ToolProcess | null {
    return this.processes.get(peer.home) ?? null;
  }

  isConnectedLine(peer: Peer, text: string): boolean {
    return CONNECTED(other(peer)).test(text);
  }

  isDisconnectedLine(peer: Peer, text: string): boolean {
    return GONE(other(peer)).test(text);
  }

  /** `status --json` of a running peer, or null when it does not answer (starting, stopping). */
  private async status(peer: Peer): Promise<Status | null> {
    try {
      const { stdout } = await execFileAsync(process.execPath, [CLI, ...COMMANDS.status(), '--dir', peer.home], { encoding: 'utf8', timeout: 20_000 });
      return JSON.parse(stdout) as Status;
    } catch {
      return null;
    }
  }

  async waitInSync(a: Peer, b: Peer, since: number, timeoutMs: number): Promise<number> {
    const sinceWall = Date.now() - (performance.now() - since);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const at = performance.now();
      // Both asked at once: each answer is a process start (a few hundred ms on a busy machine).
      const [statusA, statusB] = await Promise.all([this.status(a), this.status(b)]);
      const rowA = statusA?.peers.find((r) => r.name === NAMES.b);
      const rowB = statusB?.peers.find((r) => r.name === NAMES.a);
      if (inSync(statusA, rowA, sinceWall) && inSync(statusB, rowB, sinceWall)) return at;
      if (performance.now() > deadline) throw new Error(`vault-peers: not in sync within ${timeoutMs} ms (A: ${describe(statusA, rowA)}; B: ${describe(statusB, rowB)})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /**
   * There is no "scan now" command: the folder watcher is the only way in,
   * and it batches for 50 ms (at most 1 s) before the engine reads a change.
   * Wait that out generously (this is set-up, never inside a timed figure).
   */
  async settleLocal(): Promise<void> {
    await new Promise((r) => setTimeout(r, 5_000));
  }

  async setWatcherDelay(): Promise<void> {
    // No such setting.
  }

  /** Makes `peer` stop dialling the other itself (it still accepts): for "only the survivor redials". */
  passiveTowardsOther(peer: Peer): void {
    const file = join(peer.home, 'peers.json');
    const document = JSON.parse(readFileSync(file, 'utf8')) as { peers: { name: string; autoConnect: boolean }[] };
    for (const p of document.peers) if (p.name === other(peer)) p.autoConnect = false;
    writeFileSync(file, JSON.stringify(document));
  }

  async dispose(): Promise<void> {
    for (const proc of this.processes.values()) await proc.stop();
    this.processes.clear();
  }
}
