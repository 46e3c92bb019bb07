import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { askRunningPeer, controlPath } from '../../src/cli/control-socket';

/** The bundled headless peer; VAULT_PEERS_CLI points the specs at another build (an older one, to see a spec fail there). */
export const CLI = process.env.VAULT_PEERS_CLI ?? join(__dirname, '..', '..', 'dist', 'cli', 'vault-peers.js');
/** Loopback only, no relays: nothing these specs do leaves the machine. */
export const NETWORK = ['--relay', 'disabled'];

export interface CliResult {
  code: number | null;
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Where versions before this one put the control socket: predictable, in the shared temporary folder. */
export function legacySocket(dir: string): string {
  return join(tmpdir(), `vault-peers-${createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 16)}.sock`);
}

/** The socket a running peer of `dir` listens on (today's place, or the old one when the specs run an older build). */
export function listeningSocket(dir: string): string {
  return [controlPath(dir), legacySocket(dir)].find((path) => existsSync(path)) ?? controlPath(dir);
}

/** Runs `vault-peers` as a separate process and resolves when it ends (for commands run in parallel). */
export function cliAsync(dir: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args, '--dir', dir, ...NETWORK], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Starts `vault-peers` and hands back the process, with its output collected as it comes. */
export function cliProcess(dir: string, args: string[], options: SpawnOptions & { umask?: string } = {}): ChildProcess & { output(): string } {
  const argv = [CLI, ...args, '--dir', dir, ...NETWORK];
  // A umask of the spec's choosing: set by a shell that then becomes the peer.
  const child = options.umask
    ? spawn('/bin/sh', ['-c', `umask ${options.umask}; exec "$0" "$@"`, process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], ...options })
    : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  return Object.assign(child, { output: () => output });
}

export interface PeerRow {
  nodeId: string;
  name: string;
  status: string;
  lastError: string | null;
}

export interface ListOutput {
  self: { nodeId: string; name: string; online: boolean; connections: number | null };
  peers: PeerRow[];
}

export function cli(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const result = spawnSync(process.execPath, [CLI, ...args, '--dir', dir, ...NETWORK], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

/** A headless peer with its own state directory, started and stopped as a separate process. */
export class HeadlessPeer {
  readonly dir: string;
  private process: ChildProcess | null = null;
  private readonly helpers: ChildProcess[] = [];
  readonly output: string[] = [];

  /** @param name also its device name, announced to others (any text: specs use hostile ones) */
  constructor(readonly name: string) {
    this.dir = mkdtempSync(join(tmpdir(), `vp-${name.replace(/[^\w-]/g, '').slice(0, 20)}-`));
  }

  /** The ticket `run` printed when it started. */
  runTicket(): string {
    const line = this.output.find((l) => l.startsWith('ticket: '));
    if (!line) throw new Error(`${this.name} has not printed its ticket`);
    return line.slice('ticket: '.length);
  }

  /** This device's ticket, via `invite` (the port is stored on first use, so it stays valid). */
  ticket(): string {
    const result = cli(this.dir, ['invite', '--ticket', '--device-name', this.name, '--bind', '127.0.0.1']);
    if (result.code !== 0) throw new Error(`invite failed: ${result.stderr}`);
    return /vault-peers join (\S+)/.exec(result.stdout)![1]!;
  }

  /** Adds another device's plain ticket while no peer runs here (`name`: the other's name by default). */
  join(other: HeadlessPeer | string, name = typeof other === 'string' ? undefined : other.name): void {
    const ticket = typeof other === 'string' ? other : other.ticket();
    const result = cli(this.dir, ['join', ticket, ...(name === undefined ? [] : ['--name', name])]);
    if (result.code !== 0) throw new Error(`join failed: ${result.stderr}`);
  }

  /**
   * Runs `invite` (through the running peer if there is one) and resolves
   * with the invite text once shown; `outcome` settles when the command ends.
   */
  async invite(expires?: string): Promise<{ text: string; outcome: Promise<{ code: number | null; output: string }>; child: ChildProcess }> {
    const args = [CLI, 'invite', '--dir', this.dir, '--device-name', this.name, '--bind', '127.0.0.1', ...NETWORK];
    const child = spawn(process.execPath, expires ? [...args, '--expires', expires] : args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.helpers.push(child);
    let output = '';
    const outcome = new Promise<{ code: number | null; output: string }>((resolve) => {
      child.once('close', (code) => resolve({ code, output }));
    });
    const text = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
        const match = /vault-peers join (VP1\S+)/.exec(output);
        if (match) resolve(match[1]!);
      });
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      void outcome.then(() => reject(new Error(`invite ended without an invite: ${output}`)));
    });
    return { text, outcome, child };
  }

  /** Starts `run`; resolves once it is online. `bind` defaults to loopback on the stored port; `vault` is `run --vault`. */
  async start(bind = '127.0.0.1', options: { env?: NodeJS.ProcessEnv; umask?: string; vault?: string } = {}): Promise<void> {
    if (this.process) throw new Error(`${this.name} is already running`);
    const vault = options.vault === undefined ? [] : ['--vault', options.vault];
    const child = cliProcess(this.dir, ['run', '--device-name', this.name, '--bind', bind, ...vault], {
      env: { ...process.env, ...options.env },
      ...(options.umask ? { umask: options.umask } : {}),
    });
    this.process = child;
    let buffer = '';
    const online = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        buffer += chunk.toString('utf8');
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) {
          this.output.push(line);
          // The ticket line follows the online line: once it is out, the peer is fully up.
          if (line.startsWith('ticket: ')) resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (chunk: Buffer) => this.output.push(`stderr: ${chunk.toString('utf8').trim()}`));
      child.once('exit', (code) => reject(new Error(`${this.name} exited with ${code}: ${this.output.join('\n')}`)));
    });
    await online;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** The running `run` process, if any. */
  get child(): ChildProcess | null {
    return this.process;
  }

  /** Stops the process: SIGTERM shuts down cleanly, SIGKILL is a crash. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.process;
    if (!child) return null;
    this.process = null;
    if (child.exitCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    return exited;
  }

  async list(): Promise<ListOutput> {
    const reply = await askRunningPeer(listeningSocket(this.dir), { command: 'list', args: [], options: {} });
    if (!reply?.ok) throw new Error(`${this.name} did not answer: ${reply ? reply.error : 'not running'}`);
    return reply.output as ListOutput;
  }

  async command(command: string, ...args: string[]): Promise<unknown> {
    return this.commandWith(command, args, {});
  }

  /** A command through the running peer, with options (`{ json: true }`). */
  async commandWith(command: string, args: string[], options: Record<string, string | boolean>): Promise<unknown> {
    const reply = await askRunningPeer(listeningSocket(this.dir), { command, args, options });
    if (!reply?.ok) throw new Error(`${command} failed: ${reply ? reply.error : 'not running'}`);
    return reply.output;
  }

  /** Like `command`, but resolves with the error text instead of throwing. */
  async attempt(command: string, ...args: string[]): Promise<{ ok: boolean; text: string }> {
    const reply = await askRunningPeer(listeningSocket(this.dir), { command, args, options: {} });
    if (!reply) throw new Error(`${this.name} is not running`);
    return reply.ok ? { ok: true, text: JSON.stringify(reply.output) } : { ok: false, text: reply.error };
  }

  async nodeId(): Promise<string> {
    return (await this.list()).self.nodeId;
  }

  async statusOf(other: HeadlessPeer | string): Promise<PeerRow | undefined> {
    const list = await this.list();
    const name = typeof other === 'string' ? other : other.name;
    return list.peers.find((p) => p.name === name || p.nodeId === name);
  }

  stateFile(): string {
    return readFileSync(join(this.dir, 'peers.json'), 'utf8');
  }

  async dispose(): Promise<void> {
    for (const helper of this.helpers) if (helper.exitCode === null) helper.kill('SIGKILL');
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls until `check` returns a value, or fails after `ms` with the last value seen. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, ms = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${String(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function statusIs(from: HeadlessPeer, to: HeadlessPeer, status: string, ms?: number): Promise<PeerRow> {
  return eventually(
    async () => {
      const row = await from.statusOf(to);
      return row?.status === status ? row : undefined;
    },
    ms,
    `${from.name} to see ${to.name} ${status}`,
  );
}

/**
 * Waits until `from` no longer has `to` connected. After a drop the status is
 * `disconnected` only until the first redial starts (a jittered wait that can
 * be a few milliseconds), then `connecting`; the reason stays in lastError.
 */
export async function noLongerConnected(from: HeadlessPeer, to: HeadlessPeer, ms?: number): Promise<PeerRow> {
  return eventually(
    async () => {
      const row = await from.statusOf(to);
      return row && row.status !== 'connected' && row.status !== 'syncing' ? row : undefined;
    },
    ms,
    `${from.name} to see ${to.name} gone`,
  );
}

/** Peers made through the returned function are disposed after each spec of the calling file. */
export function headlessPeers(): (name: string) => HeadlessPeer {
  const made: HeadlessPeer[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((p) => p.dispose()));
  });
  return (name) => {
    const created = new HeadlessPeer(name);
    made.push(created);
    return created;
  };
}

/* ---- a second local user, for attacks from another account on this machine ---- */

export interface LocalUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** Runs a Node script as this user (no shell, no PAM: setpriv drops to its uid and gid). */
  node(script: string, args?: string[], timeoutMs?: number): CliResult;
  /** The same, left running. */
  spawnNode(script: string, args?: string[]): ChildProcess;
  /** Removes the user, if this spec created it. */
  remove(): void;
}

const ATTACKER = 'vp-attacker';

/**
 * A second user of this machine. Created with useradd when the specs run as
 * root; otherwise the reason it cannot be, for the skipped specs to state.
 */
export function secondUser(): LocalUser | { readonly skip: string } {
  if (process.platform !== 'linux') return { skip: 'needs Linux (useradd, setpriv)' };
  if (process.getuid?.() !== 0) return { skip: 'needs root to create a second local user (run the specs as root, e.g. in a container)' };
  for (const tool of ['useradd', 'userdel', 'setpriv']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return { skip: `needs ${tool}` };
  }
  let created = false;
  if (spawnSync('id', ['-u', ATTACKER]).status !== 0) {
    const made = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', ATTACKER], { encoding: 'utf8' });
    if (made.status !== 0) return { skip: `useradd failed: ${made.stderr.trim()}` };
    created = true;
  }
  const uid = Number(spawnSync('id', ['-u', ATTACKER], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', ATTACKER], { encoding: 'utf8' }).stdout.trim());
  const argv = (script: string, args: string[]): string[] => [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', process.execPath, '-e', script, '--', ...args];
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/', TMPDIR: tmpdir() };
  return {
    name: ATTACKER,
    uid,
    gid,
    node: (script, args = [], timeoutMs = 30_000) => {
      const result = spawnSync('setpriv', argv(script, args), { encoding: 'utf8', timeout: timeoutMs, env, cwd: '/' });
      return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
    },
    spawnNode: (script, args = []) => spawn('setpriv', argv(script, args), { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: '/' }),
    remove: () => {
      if (created) spawnSync('userdel', [ATTACKER]);
    },
  };
}
