import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { askRunningPeer, controlPath } from '../src/cli/control-socket';
import type { PeerStatus } from '../src/core/model';
import { PeerManager, type PeerManagerOptions } from '../src/core/peer-manager';
import type { PeerStorage } from '../src/core/ports';
import { NO_SYNC } from '../src/core/no-sync';
import { IrohTransport, generateSecretKey, type IrohTransportOptions } from '../src/transport/iroh-transport';

/** The repository: this file runs from bench/ (under jest) or dist/bench/ (bundled). */
export const ROOT = existsSync(join(__dirname, '..', 'package.json')) ? join(__dirname, '..') : join(__dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'cli', 'vault-peers.js');
const NETWORK = ['--relay', 'disabled'];

export class MemoryStore implements PeerStorage {
  document: Record<string, unknown> | null = null;
  async load(): Promise<unknown> {
    return this.document;
  }
  async save(document: Record<string, unknown>): Promise<void> {
    this.document = JSON.parse(JSON.stringify(document)) as Record<string, unknown>;
  }
}

/** An in-process peer on loopback: the side the benchmarks measure. */
export async function localPeer(
  name: string,
  options: { transport?: Partial<IrohTransportOptions>; manager?: Partial<PeerManagerOptions> } = {},
): Promise<{ transport: IrohTransport; manager: PeerManager; close(): Promise<void> }> {
  let manager: PeerManager | null = null;
  const transport = await IrohTransport.create({
    secretKey: generateSecretKey(),
    deviceName: () => name,
    relayMode: 'disabled',
    bindAddress: '127.0.0.1:0',
    acceptNode: (nodeId, inviteSecret) => manager?.pairing.mayConnect(nodeId, inviteSecret) ?? false,
    ...options.transport,
  });
  manager = await PeerManager.open({ transport, syncEngine: NO_SYNC, storage: new MemoryStore(), deviceName: () => name, ...options.manager });
  const opened = manager;
  return {
    transport,
    manager: opened,
    close: async () => {
      await opened.destroy();
      await transport.close();
    },
  };
}

/** Resolves (with performance.now()) once `nodeId` is connected through a process other than `oldInstance`. */
export function waitForNewProcess(manager: PeerManager, nodeId: string, oldInstance: string | undefined, ms = 90_000): Promise<number> {
  return firstValueFrom(
    manager.peerState$(nodeId).pipe(
      filter((s) => (s.status === 'connected' || s.status === 'syncing') && s.connection?.remoteInstanceId !== oldInstance),
      timeout(ms),
    ),
  ).then(() => performance.now());
}

export function waitForStatus(manager: PeerManager, nodeId: string, status: PeerStatus, ms = 60_000): Promise<number> {
  return firstValueFrom(
    manager.peerState$(nodeId).pipe(
      filter((s) => s.status === status),
      timeout(ms),
    ),
  ).then(() => performance.now());
}

/** A headless peer (`vault-peers`) in its own process and state directory. */
export class ChildPeer {
  readonly dir = mkdtempSync(join(tmpdir(), 'vp-bench-'));
  private child: ChildProcess | null = null;
  constructor(readonly name: string) {}

  /** The running process's id, for memory readings. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  cli(...args: string[]): string {
    const r = spawnSync(process.execPath, [CLI, ...args, '--dir', this.dir, '--device-name', this.name, '--bind', '127.0.0.1', ...NETWORK], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${args[0]}: ${r.stderr}`);
    return r.stdout;
  }

  ticket(): string {
    return /vault-peers join (\S+)/.exec(this.cli('invite', '--ticket'))![1]!;
  }

  /** Starts `run`; resolves with performance.now() at spawn once it is online. */
  async start(): Promise<number> {
    const startedAt = performance.now();
    const child = spawn(process.execPath, [CLI, 'run', '--dir', this.dir, '--device-name', this.name, '--bind', '127.0.0.1', ...NETWORK], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes(' is online on ')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`${this.name} exited with ${code}`)));
    });
    return startedAt;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  async ask(command: string, args: string[] = [], options: Record<string, string | boolean> = {}): Promise<unknown> {
    const reply = await askRunningPeer(controlPath(this.dir), { command, args, options });
    if (!reply?.ok) throw new Error(`${command}: ${reply ? reply.error : 'not running'}`);
    return reply.output;
  }

  /** Makes this peer stop dialling `nodeId` itself (it still accepts its connections). */
  passiveTowards(nodeId: string): void {
    const file = join(this.dir, 'peers.json');
    const document = JSON.parse(readFileSync(file, 'utf8')) as { peers: { nodeId: string; autoConnect: boolean }[] };
    for (const peer of document.peers) if (peer.nodeId === nodeId) peer.autoConnect = false;
    writeFileSync(file, JSON.stringify(document));
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** N endpoints in one child process, online and accepting anyone. */
export async function hostProcess(count: number): Promise<{ tickets: string[]; nodeIds: string[]; child: ChildProcess; close(): Promise<void> }> {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'bench', 'host.js'), JSON.stringify({ count })], { stdio: ['pipe', 'pipe', 'inherit'] });
  const ready = await new Promise<{ tickets: string[]; nodeIds: string[] }>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve(JSON.parse(line) as { tickets: string[]; nodeIds: string[] });
    });
    child.once('exit', (code) => reject(new Error(`host exited with ${code}`)));
  });
  return {
    ...ready,
    child,
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Figure {
  readonly name: string;
  readonly unit: string;
  readonly ours: number[];
  readonly anchor?: { readonly label: string; readonly values: number[] };
  readonly target?: { readonly value: number; readonly better: 'lower' | 'higher' };
  readonly note?: string;
}

export function summary(values: number[]): { median: number; min: number; max: number; runs: number } {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values.length };
}
