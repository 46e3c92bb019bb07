/**
 * A paired device that speaks the sync protocol by hand over real iroh, to a
 * real `vault-peers run --vault`: bad paths, frames over the limit, messages
 * that inflate past the limit, attachment chunks that do not match their
 * hash, garbage Yjs updates. Each must end that sync with a reason the
 * hostile device is told, write nothing to the vault (no file, no temporary
 * file, nothing staged), and leave a paired friend syncing throughout.
 */
import { createHash, randomBytes } from 'node:crypto';
import { deflateSync } from 'fflate';
import { Observable, firstValueFrom, timeout } from 'rxjs';
import type { FrameStream, PeerConnection, SyncEngine, SyncEvent } from '../src/core/ports';
import { chunkHashesOf, contentHash } from '../src/sync/hash';
import type { Entry } from '../src/sync/records-codec';
import { BLOB_PROTOCOL, PROTOCOL_VERSION, SYNC_PROTOCOL, decodeMessage, encodeMessage, type SyncMessage } from '../src/sync/wire';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { localPeer } from './lib';
import { Peers, inSync, leftovers, pair, rowOf, sleep } from './sync-lib';
import { eventually } from '../spec/support/headless';

const sha256 = (bytes: Uint8Array): Promise<Uint8Array> => Promise.resolve(new Uint8Array(createHash('sha256').update(bytes).digest()));

interface Wire {
  readonly connection: PeerConnection;
  readonly stream: FrameStream;
  readonly short: string;
  send(message: SyncMessage | Uint8Array): Promise<void>;
}

export interface Attack {
  readonly name: string;
  /** What the target's reason must say. */
  readonly reason: RegExp;
  run(wire: Wire): Promise<void>;
}

let ids = 0;
function entry(wire: Wire, path: string, fields: Partial<Entry> = {}): Entry {
  ids += 1;
  const stamp = { t: Date.now(), d: wire.short };
  return {
    id: ids.toString(16).padStart(32, 'e'),
    path,
    kind: 'blob',
    deleted: false,
    hash: 'c'.repeat(64),
    size: 3,
    changed: stamp,
    moved: stamp,
    version: { [wire.short]: 1 },
    lived: { [wire.short]: 1 },
    seq: ids,
    sv: null,
    ...fields,
  };
}

/** The raw iroh send stream under a FrameStream: to write what the FrameStream itself would refuse to send. */
function rawSend(stream: FrameStream): { writeAll(bytes: number[]): Promise<void> } {
  return (stream as unknown as { send: { writeAll(bytes: number[]): Promise<void> } }).send;
}

const badPath = (path: string, reason: RegExp): Attack => ({
  name: `path ${JSON.stringify(path)}`,
  reason,
  run: (wire) => wire.send({ type: 'changes', entries: [entry(wire, path)], docs: [] }),
});

/** Announces an attachment and serves the target's request for it with `answer` (other requests: "gone"). */
async function serveOnce(wire: Wire, path: string, answer: (blob: FrameStream, hash: string) => Promise<void>, content: Uint8Array): Promise<void> {
  const hash = await contentHash(content, sha256);
  let served: (blob: FrameStream) => void = () => undefined;
  const asked = new Promise<FrameStream>((resolve) => (served = resolve));
  const subscription = wire.connection.incomingStreams(BLOB_PROTOCOL).subscribe((blob) => {
    void (async () => {
      const want = decodeMessage((await blob.read())!);
      if (want.type === 'want' && want.hash === hash) served(blob);
      else await blob.write(encodeMessage({ type: 'gone', reason: 'not here' })).then(() => blob.finish()).catch(() => undefined);
    })();
  });
  try {
    await wire.send({ type: 'changes', entries: [entry(wire, path, { hash, size: content.length })], docs: [] });
    await answer(await asked, hash);
  } finally {
    subscription.unsubscribe();
  }
}

export const WIRE_ATTACKS: Attack[] = [
  badPath('../escape.md', /leaves the synced folder/u),
  badPath('notes/../../escape.md', /leaves the synced folder/u),
  badPath('/etc/passwd', /absolute path/u),
  badPath('C:/Windows/win.ini', /absolute path/u),
  badPath('a\u0000b.md', /NUL byte/u),
  badPath('.obsidian/plugins/evil/main.js', /hidden/u),
  badPath('.vault-peers/folder', /hidden/u),
  badPath('.vault-peers/staging/0000', /hidden/u),
  {
    name: 'a frame over the 1 MiB limit',
    // Refused: the connection is closed as refused, saying why (not only the stream broken off).
    reason: /The other device sent a frame of \d+ bytes/u,
    run: async (wire) => {
      const header = Buffer.alloc(4);
      header.writeUInt32BE(64 * 1024 * 1024, 0);
      await rawSend(wire.stream).writeAll(Array.from(Buffer.concat([header, Buffer.alloc(64 * 1024, 7)])));
    },
  },
  {
    name: 'a message that inflates past the limit',
    reason: /could not be read|larger than the limit/u,
    run: async (wire) => {
      // `changes | compressed`, claiming 1 GB once inflated, with a deflated run of zeros behind it.
      const body = deflateSync(new Uint8Array(4 * 1024 * 1024));
      const frame = new Uint8Array([0x82, 0x80, 0x80, 0x80, 0x80, 0x04, ...body]);
      await wire.send(frame);
    },
  },
  {
    name: 'a frame that does not decode',
    reason: /could not be read/u,
    run: (wire) => wire.send(new Uint8Array([2, 0xff, 0xff, 0xff])),
  },
  {
    name: 'an attachment head whose chunk hashes do not add up to its hash',
    reason: /does not match its checksum/u,
    run: (wire) =>
      // Content the target does not hold (it would copy its own file rather than fetch).
      serveOnce(wire, 'hostile/head.bin', (blob) => blob.write(encodeMessage({ type: 'head', size: 3, chunks: [new Uint8Array(32).fill(7)] })), randomBytes(3)),
  },
  {
    name: 'an attachment chunk that does not match its hash',
    reason: /does not match its checksum/u,
    run: async (wire) => {
      const content = randomBytes(100_000);
      await serveOnce(
        wire,
        'hostile/chunk.bin',
        async (blob) => {
          await blob.write(encodeMessage({ type: 'head', size: content.length, chunks: await chunkHashesOf(content, sha256) }));
          await blob.write(encodeMessage({ type: 'chunk', index: 0, bytes: new Uint8Array(content.length).fill(43) }));
        },
        content,
      );
    },
  },
  {
    name: 'a garbage Yjs update for a note',
    reason: /damaged change/u,
    run: async (wire) => {
      await wire.send({ type: 'changes', entries: [entry(wire, 'hostile/note.md', { kind: 'text', size: 10, hash: 'd'.repeat(64), sv: new Uint8Array([1, 7, 9]) })], docs: [] });
      let id: string | undefined;
      while (id === undefined) {
        const frame = await wire.stream.read();
        if (!frame) throw new Error('the target ended the stream before asking for the note');
        const message = decodeMessage(frame);
        if (message.type === 'want-docs') id = message.wants[0]?.id;
      }
      await wire.send({ type: 'docs', docs: [{ id, update: new Uint8Array([1, 1, 200, 3, 9, 9, 9, 9]) }] });
    },
  },
];

export interface HostileWireReport {
  attacks: number;
  /** Attacks whose sync ended with a reason the hostile device was told, matching what it did. */
  refusedWithReason: number;
  /** The first reason seen for each kind of attack. */
  reasons: string[];
  /** Attacks after which the target's vault held anything new (a file, a temporary file, a staged one). */
  wrote: string[];
  /** Attacks whose reason was not the expected one. */
  unexpected: string[];
  /** A live edit on the friend, made while the attacks ran, arrived; and it never dropped. */
  friendSynced: boolean;
  friendDrops: number;
  targetStillRunning: boolean;
  /** Files the target and the friend still count as to be written once it is over (announced by the hostile device, never delivered). */
  pendingAfter: { target: number; friend: number };
}

/**
 * What the hostile device is told: the connection closed with a reason, or
 * the sync stream broken off with one (a frame over the limit is refused by
 * the stream itself). Then the connection is closed from here, so the next
 * attack starts on a fresh one.
 */
async function toldWhy(connection: PeerConnection, stream: FrameStream): Promise<string> {
  const closed = firstValueFrom(connection.closed$);
  const broken = (async () => {
    for (;;) {
      const frame = await stream.read();
      if (frame === null) return 'the target finished the sync stream';
    }
  })().catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('no reason within 20 s'), 20_000)));
  const tagged = await Promise.race([closed.then((why) => ({ why, closed: true })), broken.then((why) => ({ why, closed: false })), late.then((why) => ({ why, closed: false }))]);
  clearTimeout(timer);
  // A stream broken off is followed by the connection's close as refused: that reason is the one a person reads.
  const reason = tagged.closed ? tagged.why : await Promise.race([closed, sleep(5_000).then(() => tagged.why)]);
  connection.close('attack over');
  return reason;
}

/**
 * One connection per attack: each time the hostile device connects (or is
 * dialled), its "engine" takes the next attack, sends HELLO and the attack,
 * and waits for the connection to be closed on it.
 */
export async function hostileOverWire(rounds: number): Promise<HostileWireReport> {
  const peers = new Peers();
  const queue = Array.from({ length: rounds }, () => WIRE_ATTACKS).flat();
  const report: HostileWireReport = { attacks: queue.length, refusedWithReason: 0, reasons: [], unexpected: [], wrote: [], friendSynced: false, friendDrops: 0, targetStillRunning: false, pendingAfter: { target: -1, friend: -1 } };
  const outcomes: { attack: Attack; reason: string }[] = [];
  let nextOutcome: ((outcome: { attack: Attack; reason: string }) => void) | null = null;
  const engine: SyncEngine = {
    syncWithPeer: (connection) =>
      new Observable<SyncEvent>(() => {
        const attack = queue.shift();
        if (!attack) return;
        void (async () => {
          const short = hostileId.slice(0, 8);
          let reason: string;
          try {
            const stream = connection.direction === 'outgoing' ? await connection.openStream(SYNC_PROTOCOL) : await firstValueFrom(connection.incomingStreams(SYNC_PROTOCOL).pipe(timeout(30_000)));
            const wire: Wire = { connection, stream, short, send: (m) => stream.write(m instanceof Uint8Array ? m : encodeMessage(m)) };
            await wire.send({ type: 'hello', protocol: PROTOCOL_VERSION, folder: 'vault', device: hostileId, epoch: 'bad0bad0bad0bad0', seenEpoch: '', seen: 0 });
            await attack.run(wire).catch(() => undefined);
            reason = await toldWhy(connection, stream);
          } catch (error) {
            reason = `no refusal: ${String(error)}`;
          }
          outcomes.push({ attack, reason });
          nextOutcome?.({ attack, reason });
        })();
      }),
  };
  const hostile = await localPeer('Hostile', { manager: { syncEngine: engine } });
  const hostileId = hostile.transport.nodeId;
  try {
    const target = peers.make('Target');
    const friend = peers.make('Friend');
    await target.vault.write('notes/mine.md', 'mine\n');
    await target.vault.write('files/photo.png', new Uint8Array([1, 2, 3]));
    pair(target, friend);
    target.join(await hostile.transport.generateTicket(), 'Hostile');
    // Only the hostile device dials, one connection per attack: the target never dials it back.
    const peersFile = join(target.dir, 'peers.json');
    const document = JSON.parse(readFileSync(peersFile, 'utf8')) as { peers: { name: string; autoConnect: boolean }[] };
    for (const peer of document.peers) if (peer.name === 'Hostile') peer.autoConnect = false;
    writeFileSync(peersFile, JSON.stringify(document));
    await Promise.all([target.startSyncing(), friend.startSyncing()]);
    await inSync(target, friend);
    const FRIENDS = 'notes/from-friend.md';
    const tree = async (): Promise<string> => JSON.stringify(Object.entries(await target.vault.tree()).filter(([path]) => path !== FRIENDS));
    const before = await tree();
    // The friend edits while the attacks run; it must stay connected throughout.
    let watching = true;
    const stopWatching = async (): Promise<void> => {
      watching = false;
      await watcher;
    };
    const watcher = (async () => {
      while (watching) {
        if (!(await rowOf(friend, target).catch(() => ({ connected: false }))).connected) report.friendDrops += 1;
        await sleep(200);
      }
    })();
    const targetId = (await target.list()).self.nodeId;
    await hostile.manager.addPeer(target.runTicket(), 'Target');
    await hostile.manager.updatePeer(targetId, { autoConnect: false });
    let n = 0;
    try {
    while (outcomes.length < report.attacks) {
      const done = outcomes.length;
      const got = new Promise<void>((resolve) => (nextOutcome = () => resolve()));
      const state = hostile.manager.getPeerStates().find((s) => s.peer.nodeId === targetId);
      if (state?.status !== 'connected' && state?.status !== 'syncing') await hostile.manager.connectToPeer(targetId).catch(() => undefined);
      await Promise.race([got, sleep(60_000)]);
      if (outcomes.length === done) {
        throw new Error(`no outcome for attack ${done + 1} after a minute; so far:\n${outcomes.map((o) => `${o.attack.name}: ${o.reason}`).join('\n')}\ntarget:\n${target.output.slice(-10).join('\n')}`);
      }
      const { attack, reason } = outcomes.at(-1)!;
      if (attack.reason.test(reason)) report.refusedWithReason += 1;
      if (!report.reasons.some((r) => r.startsWith(`${attack.name}: `))) report.reasons.push(`${attack.name}: ${reason}`);
      if (!attack.reason.test(reason)) report.unexpected.push(`${attack.name}: ${reason}`);
      const now = await tree();
      // A temporary file of a write in flight (the friend's note, say) is gone a moment later; one left behind is not.
      let left = await leftovers(target.vault);
      if (left.length > 0) left = await sleep(1_000).then(() => leftovers(target.vault));
      if (now !== before || left.length) report.wrote.push(`${attack.name}: ${left.join(', ') || 'the tree changed'}`);
      n += 1;
      if (n === Math.floor(report.attacks / 2)) await friend.vault.write(FRIENDS, 'written while a hostile device attacked\n');
    }
    await eventually(async () => (await target.vault.read(FRIENDS)) === 'written while a hostile device attacked\n', 30_000, "the friend's edit");
    report.friendSynced = true;
    } finally {
      await stopWatching();
    }
    const [targetStatus, friendStatus] = await Promise.all([target.status(), friend.status()]);
    report.targetStillRunning = targetStatus.self.running;
    report.pendingAfter = { target: targetStatus.here?.files ?? -1, friend: friendStatus.here?.files ?? -1 };
  } finally {
    await hostile.close();
    await peers.disposeAll();
  }
  return report;
}
