/**
 * The fault suite. `npm run faults` runs it in full; spec/faults.spec.ts runs
 * it at small counts inside `npm test`. Real iroh on loopback throughout.
 */
import * as iroh from '@number0/iroh/index.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NEVER, Subject } from 'rxjs';
import { JsonFileStorage } from '../src/cli/json-file';
import { NO_SYNC } from '../src/core/no-sync';
import { PeerManager } from '../src/core/peer-manager';
import { validatePeer } from '../src/core/persistence';
import type { Peer } from '../src/core/model';
import type { PeerConnection, Transport } from '../src/core/ports';
import { ALPN, PROTOCOL_VERSION, encodeFrame } from '../src/transport/control-protocol';
import { askRunningPeer, controlPath } from '../src/cli/control-socket';
import { CLI, ChildPeer, MemoryStore, hostProcess, localPeer, waitForNewProcess, waitForStatus } from './lib';
import { strangerFlood } from './strangers';
import { syncFaults } from './sync-faults';

const log = (line: string): void => void process.stdout.write(`${line}\n`);
const resources = (): number => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;

/** The handle count once short-lived ones (a closing socket, a timer about to fire) have settled: the lowest of a few samples. */
async function settledResources(): Promise<{ count: number; kinds: string[] }> {
  let best = { count: Number.POSITIVE_INFINITY, kinds: [] as string[] };
  for (let i = 0; i < 6; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 150));
    const kinds = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    if (kinds.length < best.count) best = { count: kinds.length, kinds };
  }
  return best;
}

/* ---- 1. kill -9 and restart, many times ---- */

export interface CycleReport {
  cycles: number;
  handlesAfterFirst: string[];
  handlesAtEnd: string[];
  resourcesAfterFirst: number;
  resourcesAtEnd: number;
  listenersAfterFirst: number;
  listenersAtEnd: number;
  unhandledRejections: number;
  documentIntact: boolean;
}

export async function killRestartCycles(cycles: number): Promise<CycleReport> {
  let unhandled = 0;
  const onUnhandled = (): void => void (unhandled += 1);
  process.on('unhandledRejection', onUnhandled);
  const child = new ChildPeer('Desktop');
  const survivor = await localPeer('Laptop');
  const report: CycleReport = { cycles, handlesAfterFirst: [], handlesAtEnd: [], resourcesAfterFirst: 0, resourcesAtEnd: 0, listenersAfterFirst: 0, listenersAtEnd: 0, unhandledRejections: 0, documentIntact: false };
  const listeners = (): number => process.eventNames().reduce((n, e) => n + process.listenerCount(e), 0);
  try {
    const childTicket = child.ticket();
    await survivor.manager.addPeer(childTicket, 'Desktop');
    child.cli('join', await survivor.transport.generateTicket(), '--name', 'Laptop');
    const childId = survivor.transport.parseTicket(childTicket).nodeId;
    const first = waitForStatus(survivor.manager, childId, 'connected', 30_000);
    await child.start();
    await first;
    for (let cycle = 1; cycle <= cycles; cycle += 1) {
      const old = survivor.manager.getPeerStates()[0]?.connection?.remoteInstanceId;
      const back = waitForNewProcess(survivor.manager, childId, old, 30_000);
      await child.kill('SIGKILL');
      await child.start();
      await back;
      if (cycle === 1) {
        const settled = await settledResources();
        report.resourcesAfterFirst = settled.count;
        report.handlesAfterFirst = settled.kinds;
        report.listenersAfterFirst = listeners();
      }
      if (cycle % 50 === 0) log(`  ${cycle} cycles: connected again every time; ${resources()} handles`);
    }
    const settled = await settledResources();
    report.resourcesAtEnd = settled.count;
    report.handlesAtEnd = settled.kinds;
    report.listenersAtEnd = listeners();
    const stored = JSON.parse(readFileSync(join(child.dir, 'peers.json'), 'utf8')) as { peers: Peer[] };
    report.documentIntact =
      stored.peers.length === 1 &&
      typeof validatePeer(stored.peers[0]) !== 'string' &&
      stored.peers[0]?.nodeId === survivor.transport.nodeId &&
      survivor.manager.getPeers().length === 1;
  } finally {
    await child.dispose();
    await survivor.close();
    process.off('unhandledRejection', onUnhandled);
  }
  report.unhandledRejections = unhandled;
  return report;
}

/* ---- 2. corrupted peers documents ---- */

/** A small deterministic PRNG so a failing variant can be reproduced by its number. */
function prng(seed: number): () => number {
  let state = Math.imul(seed, 2654435761) >>> 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  for (let i = 0; i < 8; i += 1) next(); // small seeds start with small outputs
  return next;
}

function baseDocument(): Record<string, unknown> {
  const peers = Array.from({ length: 5 }, (_, i) => ({
    nodeId: `node${i}`.padEnd(64, String(i)),
    name: `Device ${i}`,
    ticket: `fake:node${i}`,
    addedAt: '2026-11-20T10:00:00.000Z',
    lastSyncAt: i % 2 ? '2026-11-24T10:00:00.000Z' : null,
    autoConnect: i !== 3,
  }));
  return { settings: { deviceName: 'Laptop', other: [1, 2, 3] }, peers };
}

/** One damaged variant of the document, as text. */
export function corruptVariant(seed: number): { kind: string; text: string } {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const document = baseDocument();
  const peers = document.peers as Record<string, unknown>[];
  const text = (): string => JSON.stringify(document, null, 2);
  const kind = pick(['truncated', 'wrong-type', 'duplicate', 'huge-field', 'invalid-json', 'missing-field', 'peers-not-a-list', 'byte-flip', 'mixed']);
  switch (kind) {
    case 'truncated': {
      const t = text();
      return { kind, text: t.slice(0, Math.floor(random() * t.length)) };
    }
    case 'wrong-type':
      peers[Math.floor(random() * peers.length)]![pick(['nodeId', 'name', 'ticket', 'addedAt', 'lastSyncAt', 'autoConnect'])] = pick([42, [], {}, true, 'not a date']);
      return { kind, text: text() };
    case 'duplicate':
      peers.push({ ...peers[Math.floor(random() * peers.length)]!, name: 'Copy' });
      return { kind, text: text() };
    case 'huge-field':
      peers[Math.floor(random() * peers.length)]![pick(['name', 'ticket', 'nodeId'])] = 'x'.repeat(1_000_000);
      return { kind, text: text() };
    case 'invalid-json': {
      const t = text();
      const at = Math.floor(random() * t.length);
      return { kind, text: `${t.slice(0, at)}${pick(['{', '"', ',', ']', '\u0000'])}${t.slice(at)}` };
    }
    case 'missing-field':
      delete peers[Math.floor(random() * peers.length)]![pick(['nodeId', 'ticket', 'addedAt'])];
      return { kind, text: text() };
    case 'peers-not-a-list':
      document.peers = pick([{}, 'peers', 7]);
      return { kind, text: text() };
    case 'byte-flip': {
      const bytes = Buffer.from(text());
      const at = Math.floor(random() * bytes.length);
      bytes[at] = (bytes[at]! ^ (1 + Math.floor(random() * 254))) & 0xff;
      return { kind, text: bytes.toString('latin1') };
    }
    default:
      peers[0]!.autoConnect = 'yes';
      (peers as unknown[]).push(peers[1]!, 'junk', null);
      return { kind, text: text() };
  }
}

const offlineTransport: Transport = {
  nodeId: 'self'.padEnd(64, 'f'),
  incoming$: new Subject<PeerConnection>(),
  generateTicket: async () => 'x',
  parseTicket: (ticket) => {
    const match = /^fake:(\w+)$/.exec(ticket);
    if (!match) throw new Error('bad ticket');
    return { nodeId: match[1]!.padEnd(64, match[1]!.slice(-1)) };
  },
  localAddress: () => ({ nodeId: 'self', addresses: [], relay: null }),
  ticketFor: (a) => `fake:${a.nodeId}`,
  connect: () => new Subject<PeerConnection>(),
};

export interface CorruptionReport {
  variants: number;
  byKind: Record<string, number>;
  failures: string[];
}

/** Every valid peer loads; the damaged original is kept as a backup; a later save loses nothing. */
export async function corruptedDocuments(count: number): Promise<CorruptionReport> {
  const dir = mkdtempSync(join(tmpdir(), 'vp-corrupt-'));
  const report: CorruptionReport = { variants: count, byKind: {}, failures: [] };
  try {
    for (let seed = 1; seed <= count; seed += 1) {
      const { kind, text } = corruptVariant(seed);
      report.byKind[kind] = (report.byKind[kind] ?? 0) + 1;
      const file = join(dir, `peers-${seed}.json`);
      writeFileSync(file, text);
      const fail = (why: string): void => void report.failures.push(`variant ${seed} (${kind}): ${why}`);
      let parsed: unknown = undefined;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      // Readable: an object whose peers are a list or absent (a flip inside the key "peers" leaves none: that is an empty document).
      const isObject = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed);
      const rawPeers = isObject ? (parsed as { peers?: unknown }).peers : undefined;
      const entries = isObject && (rawPeers === undefined || Array.isArray(rawPeers)) ? ((rawPeers as unknown[] | undefined) ?? []) : null;
      const expected: Peer[] = [];
      const unreadable: unknown[] = [];
      for (const entry of entries ?? []) {
        const valid = validatePeer(entry);
        if (typeof valid === 'string') unreadable.push(entry);
        else if (!expected.some((p) => p.nodeId === valid.nodeId)) expected.push(valid);
      }
      const manager = await PeerManager.open({ transport: offlineTransport, syncEngine: NO_SYNC, storage: new JsonFileStorage(file) });
      try {
        if (JSON.stringify(manager.getPeers()) !== JSON.stringify(expected)) fail(`loaded ${manager.getPeers().length} peers, expected ${expected.length}`);
        const damaged = manager.loadProblems.length > 0;
        const backups = readdirBackups(dir, `peers-${seed}.json`);
        if (damaged && (backups.length !== 1 || !readFileSync(backups[0]!).equals(Buffer.from(text)))) fail('no exact backup of the damaged file');
        if (!damaged && backups.length > 0) fail('a backup of an undamaged file');
        // A change after loading: written only where it is safe, and then without losing anything.
        const added = await manager.addPeer('fake:added', 'Added').then(
          () => true,
          () => false,
        );
        await manager.destroy();
        const after = readFileSync(file);
        if (!entries) {
          if (added) fail('wrote over a document it could not read');
          if (!after.equals(Buffer.from(text))) fail('changed a document it could not read');
        } else {
          const saved = JSON.parse(after.toString('utf8')) as { peers: unknown[]; settings?: unknown };
          for (const key of Object.keys(parsed as object)) if (!(key in saved)) fail(`dropped the key ${key}`);
          const savedValid = saved.peers.filter((p) => typeof validatePeer(p) !== 'string') as Peer[];
          for (const peer of expected) if (!savedValid.some((p) => p.nodeId === peer.nodeId)) fail(`lost ${peer.nodeId} on save`);
          for (const entry of unreadable) if (!saved.peers.some((p) => JSON.stringify(p) === JSON.stringify(entry))) fail('dropped an unreadable entry on save');
          if (JSON.stringify(saved.settings) !== JSON.stringify((parsed as { settings?: unknown }).settings)) fail('changed the settings');
          if (!added) fail('could not add a peer to a readable document');
        }
      } finally {
        await manager.destroy();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return report;
}

function readdirBackups(dir: string, name: string): string[] {
  return require('node:fs')
    .readdirSync(dir)
    .filter((f: string) => f.startsWith(`${name}.damaged-`))
    .map((f: string) => join(dir, f));
}

/* ---- 3. a hostile peer ---- */

export interface HostileReport {
  attacks: number;
  closedWithReason: number;
  reasons: string[];
  heapGrowthMb: number;
  legitimateStayedConnected: boolean;
  openConnectionsAfter: number;
}

type Attack = { name: string; frames: (hello: Buffer) => Buffer[]; finish?: boolean };

const hello = (version = PROTOCOL_VERSION, extra: Record<string, unknown> = {}): Buffer =>
  Buffer.from(encodeFrame({ type: 'hello', version, name: 'Hostile', instance: 'h1', addresses: [], relay: null, ...extra } as never));
const rawFrame = (body: string | Buffer): Buffer => {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(b.length, 0);
  return Buffer.concat([header, b]);
};
const announce = (length: number): Buffer => {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(length, 0);
  return header;
};

export const ATTACKS: Attack[] = [
  { name: 'oversized control message', frames: (h) => [h, announce(500_000_000)] },
  { name: 'oversized hello', frames: () => [announce(1_000_000), Buffer.alloc(64 * 1024, 65)] },
  { name: 'truncated frame, then end of stream', frames: (h) => [h, announce(100), Buffer.from('{"type":')], finish: true },
  { name: 'garbage instead of a hello', frames: () => [Buffer.from([0, 0, 0, 5, 1, 2, 3, 4, 5])] },
  { name: 'hello of a newer protocol version', frames: () => [hello(PROTOCOL_VERSION + 1)] },
  { name: 'hello with bad fields', frames: () => [rawFrame(JSON.stringify({ type: 'hello', version: 1, name: 7, instance: '', addresses: 'all' }))] },
  { name: 'garbage control message after hello', frames: (h) => [h, rawFrame('not json at all')] },
  { name: 'unknown control message after hello', frames: (h) => [h, rawFrame(JSON.stringify({ type: 'shout', payload: 'x'.repeat(1000) }))] },
];

export async function hostilePeer(rounds: number): Promise<HostileReport> {
  const target = await localPeer('Laptop');
  const friend = await localPeer('Desktop');
  const builder = iroh.Endpoint.builder();
  iroh.presetMinimal(builder);
  builder.bindAddr('127.0.0.1:0');
  builder.alpns([Array.from(Buffer.from(ALPN))]);
  const hostile = await builder.bind();
  const report: HostileReport = { attacks: 0, closedWithReason: 0, reasons: [], heapGrowthMb: 0, legitimateStayedConnected: false, openConnectionsAfter: -1 };
  try {
    // A legitimate paired device, connected throughout; the hostile node is paired too, so its data is read.
    await target.manager.addPeer(await friend.transport.generateTicket(), 'Desktop');
    await friend.manager.addPeer(await target.transport.generateTicket(), 'Laptop');
    await target.manager.addPeer(iroh.EndpointTicket.fromAddr(hostile.addr()).toString(), 'Hostile');
    await target.manager.updatePeer(hostile.id().toString(), { autoConnect: false });
    await target.manager.disconnectPeer(hostile.id().toString());
    await target.manager.connectToPeer(hostile.id().toString()).catch(() => undefined);
    await target.manager.connectToPeer(friend.transport.nodeId);
    let friendDrops = 0;
    target.manager.peerState$(friend.transport.nodeId).subscribe((s) => {
      if (s.status !== 'connected' && s.status !== 'syncing') friendDrops += 1;
    });
    friendDrops = 0;
    const targetAddr = iroh.EndpointTicket.fromString(await target.transport.generateTicket()).endpointAddr();
    const gc = (globalThis as { gc?: () => void }).gc;
    const round = async (): Promise<void> => {
      for (const attack of ATTACKS) {
        report.attacks += 1;
        const conn = await hostile.connect(targetAddr, Array.from(Buffer.from(ALPN)));
        const stream = await conn.openBi();
        for (const frame of attack.frames(hello())) await stream.send.writeAll(Array.from(frame)).catch(() => undefined);
        if (attack.finish) await stream.send.finish().catch(() => undefined);
        const reason = await Promise.race([conn.closed(), new Promise<string>((resolve) => setTimeout(() => resolve('still open after 5 s'), 5_000))]);
        if (/^closed by peer: .+\(code \d+\)$/s.test(reason)) report.closedWithReason += 1;
        if (report.reasons.length < ATTACKS.length) report.reasons.push(`${attack.name}: ${reason}`);
        conn.close(0n, []);
      }
    };
    await round();
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 1; i < rounds; i += 1) await round();
    gc?.();
    report.heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    report.legitimateStayedConnected = friendDrops === 0 && target.manager.getPeerStates().find((s) => s.peer.nodeId === friend.transport.nodeId)?.status === 'connected';
    await new Promise((resolve) => setTimeout(resolve, 300));
    report.openConnectionsAfter = target.transport.connectionCount;
  } finally {
    await hostile.close();
    await friend.close();
    await target.close();
  }
  return report;
}

/* ---- 4. a reconnect storm ---- */

export interface StormReport {
  peers: number;
  seconds: number;
  maxConcurrentDials: number;
  dialsStarted: number;
  cpuPercent: number;
}

/** Many known peers, all offline, at start-up: redials stay within the limit and the process idles between attempts. */
export async function reconnectStorm(peerCount: number, seconds: number): Promise<StormReport> {
  // Real, dead addresses: endpoints bound on loopback, then closed.
  const dead: string[] = [];
  for (let i = 0; i < peerCount; i += 10) {
    const batch = await Promise.all(Array.from({ length: Math.min(10, peerCount - i) }, () => localPeer('gone')));
    for (const peer of batch) dead.push(await peer.transport.generateTicket());
    await Promise.all(batch.map((peer) => peer.close()));
  }
  // Known from an earlier run, so start-up redials them all (background dials): stored the way the
  // manager stores peers, by adding them on a manager whose dials go nowhere.
  const store = new MemoryStore();
  const seeding = await localPeer('Laptop', { manager: { storage: store } });
  (seeding.transport as { connect: Transport['connect'] }).connect = () => NEVER;
  for (const [i, ticket] of dead.entries()) await seeding.manager.addPeer(ticket, `Offline ${i}`);
  await seeding.close();
  const target = await localPeer('Laptop', { manager: { storage: store } });
  let active = 0;
  let maxActive = 0;
  let started = 0;
  const connect = target.transport.connect.bind(target.transport);
  (target.transport as { connect: Transport['connect'] }).connect = (ticket, options) =>
    new (require('rxjs').Observable)((subscriber: { next: (c: PeerConnection) => void; error: (e: unknown) => void; complete: () => void }) => {
      active += 1;
      started += 1;
      maxActive = Math.max(maxActive, active);
      const sub = connect(ticket, options).subscribe(subscriber);
      return () => {
        active -= 1;
        sub.unsubscribe();
      };
    });
  try {
    await target.manager.connectAll();
    const cpuBefore = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const cpu = process.cpuUsage(cpuBefore);
    const wall = performance.now() - t0;
    return { peers: peerCount, seconds, maxConcurrentDials: maxActive, dialsStarted: started, cpuPercent: ((cpu.user + cpu.system) / 1000 / wall) * 100 };
  } finally {
    await target.close();
  }
}

/* ---- 5. parallel writers of one state directory ---- */

export interface WritersPhase {
  rounds: number;
  /** Commands that did not succeed (they should all succeed). */
  failedCommands: string[];
  /** Rounds where the file and the running peer (or, without one, the commands' own reports) disagreed. */
  disagreements: string[];
  msPerRound: number;
}

export interface WritersReport {
  processesPerRound: number;
  withRun: WritersPhase;
  withoutRun: WritersPhase;
  /** Device keys created: 1 however many commands started at once on an empty directory. */
  keys: number;
}

function vaultPeers(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args, '--dir', dir, '--relay', 'disabled', '--bind', '127.0.0.1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('close', (code) => resolve({ code, out }));
  });
}

interface Stored {
  peers: { nodeId: string; name: string }[];
  settings?: { unknownDevices?: string };
}

/**
 * Several processes edit one state directory at once, each reaching it by
 * another path (the directory, a symbolic link to it, `dir/.`, another
 * temporary folder): joins, renames, removals and policy changes. With `run`
 * up, after each round the file must say what the running peer says; without
 * one, the file must hold every change the commands reported.
 */
export async function parallelWriters(rounds: number): Promise<WritersReport> {
  const base = mkdtempSync(join(tmpdir(), 'vp-writers-'));
  const dir = join(base, 'state');
  const link = join(base, 'link');
  const otherTmp = mkdtempSync(join(tmpdir(), 'vp-writers-tmp-'));
  const hosts = await hostProcess(rounds * 4 + 2);
  let nextTicket = 0;
  const report: WritersReport = {
    processesPerRound: 6,
    withRun: { rounds, failedCommands: [], disagreements: [], msPerRound: 0 },
    withoutRun: { rounds, failedCommands: [], disagreements: [], msPerRound: 0 },
    keys: 0,
  };
  const file = (): Stored => JSON.parse(readFileSync(join(dir, 'peers.json'), 'utf8')) as Stored;
  const names = (peers: { name: string }[]): string => peers.map((p) => p.name).sort().join(', ');
  let runner: ReturnType<typeof spawn> | null = null;
  try {
    // First starts at once on an empty directory, through different paths: one key.
    const first = await Promise.all([dir, `${dir}/.`, dir, dir].map((path) => vaultPeers(path, ['list', '--json'])));
    report.keys = new Set(first.map((r) => (r.code === 0 ? (JSON.parse(r.out) as { self: { nodeId: string } }).self.nodeId : `failed: ${r.out}`))).size;
    symlinkSync(dir, link);
    for (const name of ['Anchor', 'Spare']) await vaultPeers(dir, ['join', hosts.tickets[nextTicket++]!, '--name', name]);

    const round = async (phase: WritersPhase, r: number, live: boolean): Promise<void> => {
      const before = file();
      const victim = before.peers.find((p) => p.name.startsWith('New'));
      const anchor = before.peers.find((p) => p.name.startsWith('Anchor'))!;
      const spare = before.peers.find((p) => p.name.startsWith('Spare'))!;
      const policy = r % 2 ? 'reject' : 'ask';
      const commands: [string, string[], NodeJS.ProcessEnv][] = [
        [link, ['join', hosts.tickets[nextTicket++]!, '--name', `New ${r}a`], {}],
        [`${dir}/.`, ['join', hosts.tickets[nextTicket++]!, '--name', `New ${r}b`], {}],
        [dir, ['rename', anchor.nodeId.slice(0, 12), `Anchor ${r}`], { TMPDIR: otherTmp }],
        [link, ['rename', spare.nodeId.slice(0, 12), `Spare ${r}`], {}],
        [dir, ['policy', policy], { TMPDIR: otherTmp }],
        ...(victim ? [[`${dir}/.`, ['remove', victim.nodeId.slice(0, 12)], {}] as [string, string[], NodeJS.ProcessEnv]] : []),
      ];
      const results = await Promise.all(commands.map(([path, args, env]) => vaultPeers(path, args, env)));
      results.forEach((result, i) => {
        if (result.code !== 0) phase.failedCommands.push(`round ${r}: ${commands[i]![1].join(' ')} -> ${result.code}: ${result.out.trim().split('\n')[0]}`);
      });
      const stored = file();
      const expected = new Set(before.peers.map((p) => p.nodeId));
      if (victim) expected.delete(victim.nodeId);
      const storedIds = new Set(stored.peers.map((p) => p.nodeId));
      const wanted = [`New ${r}a`, `New ${r}b`, `Anchor ${r}`, `Spare ${r}`];
      const missing = wanted.filter((name) => !stored.peers.some((p) => p.name === name));
      const back = [...storedIds].filter((id) => !expected.has(id) && !stored.peers.find((p) => p.nodeId === id)?.name.startsWith(`New ${r}`));
      if (missing.length || back.length || stored.settings?.unknownDevices !== policy) {
        phase.disagreements.push(`round ${r}: file lacks [${missing.join(', ')}], has ${back.length} removed, policy ${stored.settings?.unknownDevices} (want ${policy})`);
      }
      if (live) {
        const listed = await askRunningPeer(controlPath(dir), { command: 'list', args: [], options: {} });
        const pending = await askRunningPeer(controlPath(dir), { command: 'pending', args: [], options: {} });
        const livePeers = listed?.ok ? (listed.output as { peers: { name: string }[] }).peers : [];
        const livePolicy = pending?.ok ? (pending.output as { policy: string }).policy : '?';
        if (names(livePeers) !== names(stored.peers) || livePolicy !== stored.settings?.unknownDevices) {
          phase.disagreements.push(`round ${r}: running peer [${names(livePeers)}] ${livePolicy} vs file [${names(stored.peers)}] ${stored.settings?.unknownDevices}`);
        }
      }
    };

    let t0 = performance.now();
    for (let r = 0; r < rounds; r += 1) await round(report.withoutRun, r, false);
    report.withoutRun.msPerRound = (performance.now() - t0) / rounds;

    runner = spawn(process.execPath, [CLI, 'run', '--dir', dir, '--relay', 'disabled', '--bind', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      runner!.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\nticket: ')) resolve();
      });
      runner!.once('exit', (code) => reject(new Error(`run exited with ${code}`)));
    });
    t0 = performance.now();
    for (let r = rounds; r < 2 * rounds; r += 1) await round(report.withRun, r, true);
    report.withRun.msPerRound = (performance.now() - t0) / rounds;
    const leftovers = readdirSync(dir).filter((f) => f.endsWith('.tmp'));
    if (leftovers.length) report.withRun.disagreements.push(`temporary files left: ${leftovers.join(', ')}`);
  } finally {
    if (runner && runner.exitCode === null) {
      const exited = new Promise((resolve) => runner!.once('exit', resolve));
      runner.kill('SIGTERM');
      await exited;
    }
    await hosts.close();
    rmSync(base, { recursive: true, force: true });
    rmSync(otherTmp, { recursive: true, force: true });
  }
  return report;
}

/* ---- npm run faults ---- */

async function main(): Promise<void> {
  const full = !process.argv.includes('--quick');
  log('Fault suite' + (full ? '' : ' (quick)'));
  if (process.argv.includes('--sync-only')) {
    const syncOnly = await syncFaults(full, log);
    log(syncOnly ? 'All sync fault checks passed.' : 'SOME SYNC FAULT CHECKS FAILED.');
    process.exit(syncOnly ? 0 : 1);
  }
  const cycles = await killRestartCycles(full ? 200 : 10);
  log(`kill -9 / restart: ${JSON.stringify({ ...cycles, handlesAfterFirst: cycles.handlesAfterFirst.join(','), handlesAtEnd: cycles.handlesAtEnd.join(',') })}`);
  const corrupt = await corruptedDocuments(full ? 1_000 : 100);
  log(`corrupted documents: ${corrupt.variants} variants ${JSON.stringify(corrupt.byKind)}, ${corrupt.failures.length} failures${corrupt.failures.length ? `\n  ${corrupt.failures.slice(0, 10).join('\n  ')}` : ''}`);
  const hostile = await hostilePeer(full ? 25 : 3);
  log(`hostile peer: ${JSON.stringify({ ...hostile, reasons: undefined })}\n  ${hostile.reasons.join('\n  ')}`);
  const storm = await reconnectStorm(100, full ? 30 : 10);
  log(`reconnect storm: ${JSON.stringify(storm)}`);
  const flood = await strangerFlood(full ? 10_000 : 1_000, 250, log, full ? 65_000 : 10_000);
  log(`stranger flood: ${JSON.stringify(flood)}`);
  const writers = await parallelWriters(full ? 20 : 4);
  log(`parallel writers: ${JSON.stringify(writers, null, 2)}`);
  const syncOk = await syncFaults(full, log);
  const ok =
    syncOk &&
    cycles.unhandledRejections === 0 &&
    cycles.resourcesAtEnd <= cycles.resourcesAfterFirst &&
    cycles.listenersAtEnd <= cycles.listenersAfterFirst &&
    cycles.documentIntact &&
    corrupt.failures.length === 0 &&
    hostile.closedWithReason === hostile.attacks &&
    hostile.legitimateStayedConnected &&
    storm.maxConcurrentDials <= 4 &&
    flood.rssGrowthMb <= 20 &&
    flood.friendStayedConnected &&
    writers.keys === 1 &&
    [writers.withRun, writers.withoutRun].every((phase) => phase.failedCommands.length === 0 && phase.disagreements.length === 0);
  log(ok ? 'All fault checks passed.' : 'SOME FAULT CHECKS FAILED.');
  process.exit(ok ? 0 : 1);
}

if (/faults\.js$/.test(process.argv[1] ?? '')) void main();
