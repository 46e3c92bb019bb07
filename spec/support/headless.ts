import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { askRunningPeer, controlPath } from '../../src/cli/control-socket';

const CLI = join(__dirname, '..', '..', 'dist', 'cli', 'vault-peers.js');
/** Loopback only, no relays: nothing these specs do leaves the machine. */
const NETWORK = ['--relay', 'disabled'];

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

export function cli(dir: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args, '--dir', dir, ...NETWORK], { encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A headless peer with its own state directory, started and stopped as a separate process. */
export class HeadlessPeer {
  readonly dir: string;
  private process: ChildProcess | null = null;
  private readonly helpers: ChildProcess[] = [];
  readonly output: string[] = [];

  constructor(readonly name: string) {
    this.dir = mkdtempSync(join(tmpdir(), `vp-${name}-`));
  }

  /** This device's ticket, via `invite` (the port is stored on first use, so it stays valid). */
  ticket(): string {
    const result = cli(this.dir, ['invite', '--ticket', '--device-name', this.name, '--bind', '127.0.0.1']);
    if (result.code !== 0) throw new Error(`invite failed: ${result.stderr}`);
    return /vault-peers join (\S+)/.exec(result.stdout)![1]!;
  }

  join(other: HeadlessPeer | string): void {
    const ticket = typeof other === 'string' ? other : other.ticket();
    const result = cli(this.dir, ['join', ticket, ...(typeof other === 'string' ? [] : ['--name', other.name])]);
    if (result.code !== 0) throw new Error(`join failed: ${result.stderr}`);
  }

  /**
   * Runs `invite` (through the running peer if there is one) and resolves
   * with the invite text once shown; `outcome` settles when the command ends.
   */
  async invite(expires?: string): Promise<{ text: string; outcome: Promise<{ code: number | null; output: string }> }> {
    const args = [CLI, 'invite', '--dir', this.dir, '--device-name', this.name, '--bind', '127.0.0.1', ...NETWORK];
    const child = spawn(process.execPath, expires ? [...args, '--expires', expires] : args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.helpers.push(child);
    let output = '';
    const outcome = new Promise<{ code: number | null; output: string }>((resolve) => {
      child.once('exit', (code) => resolve({ code, output }));
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
    return { text, outcome };
  }

  /** Starts `run`; resolves once it is online. `bind` defaults to loopback on the stored port. */
  async start(bind = '127.0.0.1'): Promise<void> {
    if (this.process) throw new Error(`${this.name} is already running`);
    const child = spawn(process.execPath, [CLI, 'run', '--dir', this.dir, '--device-name', this.name, '--bind', bind, ...NETWORK], {
      stdio: ['ignore', 'pipe', 'pipe'],
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
          if (/ is online on /.test(line)) resolve();
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
    const reply = await askRunningPeer(controlPath(this.dir), { command: 'list', args: [], options: {} });
    if (!reply?.ok) throw new Error(`${this.name} did not answer: ${reply ? reply.error : 'not running'}`);
    return reply.output as ListOutput;
  }

  async command(command: string, ...args: string[]): Promise<unknown> {
    const reply = await askRunningPeer(controlPath(this.dir), { command, args, options: {} });
    if (!reply?.ok) throw new Error(`${command} failed: ${reply ? reply.error : 'not running'}`);
    return reply.output;
  }

  /** Like `command`, but resolves with the error text instead of throwing. */
  async attempt(command: string, ...args: string[]): Promise<{ ok: boolean; text: string }> {
    const reply = await askRunningPeer(controlPath(this.dir), { command, args, options: {} });
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
