/**
 * kill -9 of either of two `vault-peers run --vault` processes, over real iroh
 * on loopback, again and again: while they first sync two filled vaults
 * (initial sync), and while a writer on each side keeps appending lines to
 * notes (live editing). Once both run undisturbed: the trees are identical,
 * every generated file and every line a writer put on disk is there exactly
 * once, nothing temporary or staged is left, and neither handles nor memory
 * grew across the kills.
 */
import { appendFileSync } from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import { Peers, fillVault, inSync, leftovers, log, missingOrChanged, pair, prng, rowOf, settledUse, sleep, type Contents, type SyncedPeer } from './sync-lib';
import { eventually } from '../spec/support/headless';

/* ---- writers ---- */

/**
 * Another program editing notes on one side: every few milliseconds it
 * appends one line, unique in the whole run, to one of its own notes or to a
 * note both sides edit. A line counts as written once `appendFile` returned
 * (it reached the disk). Appending, not rewriting, so the writer itself never
 * undoes what the sync wrote: a line that goes missing was lost by the sync.
 *
 * `gapless` appends in one blocking call (open, write and close with no
 * event-loop turn between them). An asynchronous append opens the file and
 * writes it in two trips through the thread pool: if the sync renames a
 * merged version over the note in between, the write lands in the replaced
 * file. That race belongs to every replace-by-rename writer (Syncthing's
 * too), the engine cannot see it coming, and it is counted separately.
 */
export class Writer {
  readonly written = new Map<string, string>();
  /** When each line was written (performance.now()), to place a lost line among the kills. */
  readonly at = new Map<string, number>();
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private seq = 0;

  constructor(
    readonly side: string,
    private readonly peer: SyncedPeer,
    private readonly shared: readonly string[],
    private readonly random: () => number,
    private readonly gapless = true,
    private readonly everyMs = 25,
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const own = this.random() < 0.5;
        const path = own ? `live/${this.side}-${Math.floor(this.random() * 6)}.md` : this.shared[Math.floor(this.random() * this.shared.length)]!;
        const line = `${this.side}-${(this.seq += 1)} ${'x'.repeat(Math.floor(this.random() * 40))}`;
        try {
          if (this.gapless) appendFileSync(this.peer.vault.at(path), `${line}\n`);
          else await appendFile(this.peer.vault.at(path), `${line}\n`);
          this.written.set(line, path);
          this.at.set(line, performance.now());
        } catch {
          // The folder of a note not synced here yet: this line was never written, so it is not expected.
        }
        await sleep(this.everyMs * (0.5 + this.random()));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

/** Every line the writers wrote appears exactly once in the vault, in the note it was written to, and nothing else is in the notes they edit. */
export async function checkLines(peer: SyncedPeer, writers: readonly Writer[], paths: readonly string[]): Promise<{ lost: string[]; duplicated: string[]; foreign: string[] }> {
  const counts = new Map<string, { path: string; times: number }[]>();
  const foreign: string[] = [];
  for (const path of paths) {
    const text = await readFile(peer.vault.at(path), 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('# ')) continue;
      if (!/^[AB]-\d+ x*$/.test(line)) foreign.push(`${path}: ${JSON.stringify(line.slice(0, 60))}`);
      const seen = counts.get(line) ?? [];
      const here = seen.find((s) => s.path === path);
      if (here) here.times += 1;
      else seen.push({ path, times: 1 });
      counts.set(line, seen);
    }
  }
  const lost: string[] = [];
  const duplicated: string[] = [];
  for (const writer of writers) {
    for (const [line, path] of writer.written) {
      const seen = counts.get(line) ?? [];
      const total = seen.reduce((n, s) => n + s.times, 0);
      if (total === 0) lost.push(`${path}: ${line.split(' ')[0]} (written at ${Math.round(writer.at.get(line) ?? 0)} ms)`);
      else if (total > 1 || seen[0]!.path !== path) duplicated.push(`${line.split(' ')[0]} ${total}x in ${seen.map((s) => s.path).join(', ')} (written at ${Math.round(writer.at.get(line) ?? 0)} ms)`);
    }
  }
  for (const line of counts.keys()) if (!writers.some((w) => w.written.has(line))) foreign.push(`unwritten line ${line.split(' ')[0]}`);
  return { lost, duplicated, foreign };
}

/* ---- one kill ---- */

/** Kills `victim` with SIGKILL and starts it again on the same folder and state. */
async function killAndRestart(victim: SyncedPeer, downMs: number): Promise<void> {
  await victim.stop('SIGKILL');
  if (downMs > 0) await sleep(downMs);
  await victim.startSyncing({ vault: null });
}

/** Waits until both sides have each other connected again. */
async function reconnected(a: SyncedPeer, b: SyncedPeer): Promise<void> {
  await eventually(async () => (await rowOf(a, b)).connected && (await rowOf(b, a)).connected, 60_000, `${a.name} and ${b.name} connected again`);
}

/* ---- initial sync ---- */

export interface InitialReport {
  rounds: number;
  kills: number;
  /** Kills that landed while the two still had something to exchange. */
  killsMidSync: number;
  /** Files generated per round, both sides together. */
  filesPerRound: number;
  /** Generated files not present with their content on both sides afterwards. */
  wrong: string[];
  leftovers: string[];
  msPerRound: number;
}

/**
 * Rounds of two fresh peers with filled vaults (different notes and
 * attachments on each side, some large enough that a kill lands mid-file),
 * killed at random moments until they are in sync or `killsPerRound` kills
 * were made; then left alone to finish, and checked.
 */
export async function killsDuringInitialSync(rounds: number, killsPerRound: number, seed = 1, sizes = { notes: 120, attachments: [3 * 1024 * 1024, 200_000] }): Promise<InitialReport> {
  const random = prng(seed);
  const report: InitialReport = { rounds, kills: 0, killsMidSync: 0, filesPerRound: 0, wrong: [], leftovers: [], msPerRound: 0 };
  const t0 = performance.now();
  for (let round = 1; round <= rounds; round += 1) {
    const peers = new Peers();
    try {
      const a = peers.make('A');
      const b = peers.make('B');
      const expected: Contents = new Map([
        ...(await fillVault(a.vault, 'from-a', sizes.notes, sizes.attachments)),
        ...(await fillVault(b.vault, 'from-b', Math.ceil(sizes.notes / 3), sizes.attachments.slice(1))),
      ]);
      report.filesPerRound = expected.size;
      pair(a, b);
      await Promise.all([a.startSyncing(), b.startSyncing()]);
      for (let kill = 0; kill < killsPerRound; kill += 1) {
        await sleep(100 + random() * 1500);
        const [ab, ba] = await Promise.all([rowOf(a, b), rowOf(b, a)]).catch(() => [null, null]);
        const midSync = !ab || !ba || !ab.live || !ba.live || ab.waiting + ba.waiting > 0;
        if (!midSync) break;
        report.kills += 1;
        report.killsMidSync += 1;
        await killAndRestart(random() < 0.5 ? a : b, random() < 0.3 ? random() * 500 : 0);
      }
      await inSync(a, b, 180_000);
      for (const peer of [a, b]) {
        report.wrong.push(...(await missingOrChanged(peer.vault, expected)).map((w) => `round ${round}, ${peer.name}: ${w}`));
        report.leftovers.push(...(await leftovers(peer.vault)).map((l) => `round ${round}, ${peer.name}: ${l}`));
      }
    } finally {
      await peers.disposeAll();
    }
  }
  report.msPerRound = Math.round((performance.now() - t0) / rounds);
  return report;
}

/* ---- live editing ---- */

export interface UseReading {
  fds: number;
  rssMb: number;
}

export interface LiveReport {
  kills: number;
  linesWritten: number;
  lost: string[];
  duplicated: string[];
  foreign: string[];
  treesIdentical: boolean;
  leftovers: string[];
  /**
   * The peer left running through a block of kills of the other: its reading
   * after the block's first reconnection, after the middle one and after the
   * last. Growth is judged over the second half: in the first, the process's
   * native allocator (iroh's runtime, glibc arenas) is still taking the
   * memory it then keeps reusing, while a leak grows in both halves alike.
   */
  survivors: { name: string; kills: number; first: UseReading; mid: UseReading; last: UseReading }[];
  /** Each restarted peer, read once it is live again: the first and the last few. */
  freshFirst: UseReading[];
  freshLast: UseReading[];
  msPerKill: number;
  /** Restarts after which the peer was not live again within 90 s (connected, but still catching up or syncing bursts). */
  notLive: string[];
  /** Each kill and restart (performance.now() in ms), to place a lost line among them. */
  timeline: string[];
}

/**
 * Two peers, synced, with a writer appending on each side; the victim of
 * each kill is the same for a block of kills (so the other runs through the
 * whole block and its handles and memory can be compared), alternating
 * between blocks. Down time and the time between kills are random.
 */
export async function killsDuringLiveEditing(kills: number, block: number, seed = 2, gapless = true): Promise<LiveReport> {
  const random = prng(seed);
  const peers = new Peers();
  const report: LiveReport = { kills: 0, linesWritten: 0, lost: [], duplicated: [], foreign: [], treesIdentical: false, leftovers: [], survivors: [], freshFirst: [], freshLast: [], msPerKill: 0, timeline: [], notLive: [] };
  const shared = Array.from({ length: 4 }, (_, i) => `live/shared-${i}.md`);
  const writers: Writer[] = [];
  try {
    const a = peers.make('A');
    const b = peers.make('B');
    for (const path of shared) await a.vault.write(path, `# ${path}\n`);
    await a.vault.write('live/readme.md', '# both sides have this folder\n');
    pair(a, b);
    await Promise.all([a.startSyncing(), b.startSyncing()]);
    await inSync(a, b);
    writers.push(new Writer('A', a, shared, prng(seed * 31 + 1), gapless), new Writer('B', b, shared, prng(seed * 31 + 2), gapless));
    for (const writer of writers) writer.start();
    const fresh: UseReading[] = [];
    const t0 = performance.now();
    for (let start = 0; start < kills; start += block) {
      const victim = (start / block) % 2 === 0 ? b : a;
      const survivor = victim === a ? b : a;
      let first: UseReading | null = null;
      let mid: UseReading | null = null;
      const inBlock = Math.min(block, kills - start);
      for (let k = 0; k < inBlock; k += 1) {
        await sleep(200 + random() * 1200);
        report.timeline.push(`${Math.round(performance.now())} kill ${victim.name}`);
        await killAndRestart(victim, random() < 0.3 ? random() * 800 : 0);
        report.timeline.push(`${Math.round(performance.now())} ${victim.name} running again`);
        report.kills += 1;
        await reconnected(a, b);
        // The same moment for every restart: connected, and caught up with the other.
        // While both writers type, bursts can follow each other for a while; a peer not live within 90 s is reported, not waited for.
        const live = await eventually(async () => (await rowOf(victim, survivor)).live || undefined, 90_000, `${victim.name} live again`).catch(async () => {
          const status = await victim.status();
          report.notLive.push(`kill ${report.kills}: ${victim.name} not live within 90 s: ${JSON.stringify(status.peers.map((p) => ({ sync: p.sync, status: p.status, waiting: p.waiting, progress: p.progress })))} here ${JSON.stringify(status.here)}`);
          return false;
        });
        if (!live) continue;
        fresh.push(await settledUse(victim.pid!));
        if (k === 0) first = await settledUse(survivor.pid!);
        if (k === Math.floor(inBlock / 2)) mid = await settledUse(survivor.pid!);
        if (report.kills % 25 === 0) log(`  ${report.kills} kills during live editing`);
      }
      if (inBlock > 1 && first && mid) report.survivors.push({ name: survivor.name, kills: inBlock, first, mid, last: await settledUse(survivor.pid!) });
    }
    report.msPerKill = Math.round((performance.now() - t0) / Math.max(1, report.kills));
    for (const writer of writers) await writer.stop();
    report.linesWritten = writers.reduce((n, w) => n + w.written.size, 0);
    const tree = await inSync(a, b, 180_000);
    report.treesIdentical = JSON.stringify(tree) === JSON.stringify(await b.vault.tree());
    const paths = Object.keys(tree).filter((p) => p.startsWith('live/'));
    const checked = await checkLines(a, writers, paths);
    Object.assign(report, checked);
    for (const peer of [a, b]) report.leftovers.push(...(await leftovers(peer.vault)).map((l) => `${peer.name}: ${l}`));
    const few = Math.max(1, Math.min(5, Math.floor(fresh.length / 3)));
    report.freshFirst = fresh.slice(0, few);
    report.freshLast = fresh.slice(-few);
  } finally {
    for (const writer of writers) await writer.stop();
    await peers.disposeAll();
  }
  return report;
}

/** Growth a report allows: a few descriptors (a dial racing a reading) and some memory (the notes grew meanwhile). */
export const ALLOWED_FD_GROWTH = 3;
export const ALLOWED_RSS_GROWTH_MB = 40;

const median = (values: number[]): number => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? 0;

/** What grew across the kills: the largest growth of a survivor (handles over its whole block, memory over the block's second half), and of fresh peers from the first restarts to the last. */
export function growth(report: LiveReport): { survivorFds: number; survivorRssMb: number; freshFds: number; freshRssMb: number } {
  return {
    survivorFds: Math.max(0, ...report.survivors.map((s) => s.last.fds - s.first.fds)),
    survivorRssMb: Math.max(0, ...report.survivors.map((s) => s.last.rssMb - s.mid.rssMb)),
    freshFds: median(report.freshLast.map((r) => r.fds)) - median(report.freshFirst.map((r) => r.fds)),
    freshRssMb: median(report.freshLast.map((r) => r.rssMb)) - median(report.freshFirst.map((r) => r.rssMb)),
  };
}
