/**
 * npm run bench:sync: Vault Peers against Syncthing on the same generated
 * vault, in the same run, each peer a separate process in its own network
 * namespace, joined by one veth pair whose counters give the wire bytes.
 * Prints what it does, then a Markdown table; writes docs/bench-sync.json.
 *
 *   npm run bench:sync -- [--quick] [--only syncthing|vault-peers] [--outage | --no-outage]
 *                         [--notes N] [--attachments N] [--big-mib N] [--runs N] [--edits N]
 *                         [--moves N] [--catch-up 10,100,1000] [--pairs N] [--outage-seconds S]
 *                         [--outage-runs N] [--seed S] [--keep] [--json PATH | --no-json]
 *
 * Needs root (namespaces, nftables) and Linux; installs iproute2, nftables
 * and syncthing with apt-get when missing. Loopback-like only: the two
 * namespaces have no route anywhere but each other.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { cleanupAll, onCleanup } from './cleanup';
import { loadAverage, now, peersFor, type Context, type Options } from './context';
import { ensureCommand } from './install';
import { Link, staleNamespaces } from './netns';
import { outage, type OutageResults } from './outage';
import { Figures, format, markdownTable, summarize } from './report';
import { SETTLE_MS, catchUp, concurrentEdits, identicalCopies, initialSync, liveFigures, livePair, variantOf } from './scenarios';
import { Syncthing, ensureSyncthing } from './syncthing';
import type { SyncTool } from './tool';
import { generateVault } from './vault';
import { VaultPeers, repoRoot } from './vault-peers';

const log = (line: string): void => void process.stdout.write(`${line}\n`);

const SCENARIOS = ['raw', 'initial', 'identical', 'attachments', 'live', 'catchup', 'concurrent'];

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      outage: { type: 'boolean' },
      'no-outage': { type: 'boolean' },
      notes: { type: 'string' },
      attachments: { type: 'string' },
      'big-mib': { type: 'string' },
      runs: { type: 'string' },
      edits: { type: 'string' },
      moves: { type: 'string' },
      'catch-up': { type: 'string' },
      'catch-up-runs': { type: 'string' },
      pairs: { type: 'string' },
      'outage-seconds': { type: 'string' },
      'outage-runs': { type: 'string' },
      seed: { type: 'string' },
      keep: { type: 'boolean' },
      scenarios: { type: 'string' },
      json: { type: 'string' },
      'no-json': { type: 'boolean' },
    },
  });
  const quick = values.quick === true;
  const int = (key: keyof typeof values, full: number, small: number): number => {
    const text = values[key];
    if (typeof text !== 'string') return quick ? small : full;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${key} takes a whole number, not "${text}"`);
    return n;
  };
  const only = values.only ?? 'both';
  if (only !== 'both' && only !== 'syncthing' && only !== 'vault-peers') throw new Error('--only takes syncthing or vault-peers');
  const notes = int('notes', 10_000, 1_000);
  const catchUpText = values['catch-up'] ?? (quick ? '10,100' : '10,100,1000');
  return {
    quick,
    only,
    seed: values.seed ?? 'vault-peers-bench-1',
    notes,
    attachments: int('attachments', 20, 5),
    bigMiB: int('big-mib', 100, 20),
    runs: int('runs', 3, 1),
    edits: int('edits', 20, 5),
    moves: int('moves', 5, 2),
    bigRuns: quick ? 1 : 2,
    catchUp: catchUpText.split(',').map(Number).filter((k) => k > 0 && k <= notes),
    catchUpRuns: int('catch-up-runs', 2, 1),
    pairs: Math.min(notes, int('pairs', 1_000, 100)),
    outage: values.outage ? 'only' : values['no-outage'] || only === 'syncthing' ? 'without' : 'with',
    outageSeconds: int('outage-seconds', 60, 60),
    outageRuns: int('outage-runs', 5, 1),
    scenarios: new Set((values.scenarios ?? SCENARIOS.join(',')).split(',')),
    keep: values.keep === true,
    json: values['no-json'] ? null : (values.json ?? join(repoRoot(), 'docs', 'bench-sync.json')),
  };
}

function defineFigures(figures: Figures, opts: Options): void {
  const lower = (id: string, ratio = 1) => (ours: number, anchors: Record<string, number>) => anchors[id] === undefined || ours <= anchors[id]! * ratio;
  const under = (limit: number) => (ours: number) => ours <= limit;
  const n = opts.notes.toLocaleString('en');
  figures.figure('initial-time', `Initial sync of ${n} notes into an empty peer (both started → every file identical)`, 'ms', 'faster than Syncthing, same run', (o, a) => a.syncthing === undefined || o < a.syncthing);
  figures.figure('initial-connect', '… of which: started → connected (first "connected" line of either side)', 'ms');
  figures.figure('initial-after-connect', '… of which: connected → every file identical', 'ms');
  figures.figure('initial-bytes', '… bytes on the wire (both ways, until both say in sync)', 'B', '≤ half of Syncthing\'s', lower('syncthing', 0.5));
  figures.figure('identical-time', `The same when both hold identical copies (started → both say in sync)`, 'ms', '< 10 s', under(10_000));
  figures.figure('identical-bytes', '… bytes on the wire', 'B', '< 3 MB', under(3e6));
  figures.figure('edit-p50', 'One-line edit → on the other disk, median', 'ms', '≤ 300 ms', under(300));
  figures.figure('edit-p95', 'One-line edit → on the other disk, 95th percentile', 'ms', '≤ 1 s', under(1_000));
  figures.figure('edit-bytes', 'Bytes on the wire per one-line edit (idle traffic subtracted)', 'B', '≤ 500 B', under(500));
  figures.figure('rename-time', 'Rename → seen on the other side', 'ms', '< 1 s', under(1_000));
  figures.figure('rename-bytes', '… bytes on the wire per rename (no content: far below the note\'s size)', 'B', 'no content');
  figures.figure('delete-time', 'Delete → gone on the other side', 'ms', '< 1 s', under(1_000));
  for (const k of opts.catchUp) {
    figures.figure(`catchup-${k}-bytes`, `Catch-up after ${k.toLocaleString('en')} of ${n} notes changed while apart: bytes`, 'B', 'proportional to K');
    figures.figure(`catchup-${k}-first`, '… first changed note on disk, after connecting', 'ms', 'within 2 round trips');
    figures.figure(`catchup-${k}-time`, '… all changed notes on disk, after B started', 'ms');
  }
  figures.figure('big-throughput', `A ${opts.bigMiB} MiB attachment (moved into the vault → identical on the other side)`, 'MiB/s', 'beside the raw binding');
  figures.figure('raw-binding', `Raw @number0/iroh binding, ${opts.bigMiB} MiB on one stream, same link (the ceiling for ours; no sync code)`, 'MiB/s');
  figures.figure('attachments-time', `Initial sync of ${opts.attachments} attachments (10 KB–5 MB) into an empty peer`, 'ms');
  figures.figure('attachments-bytes', '… bytes on the wire', 'B');
  figures.figure('memory-peak', `Peak resident memory (VmHWM) of either peer during the initial sync of ${n} notes`, 'MB', '≤ 150 MB', under(150));
  figures.figure('memory-settled', '… resident memory (VmRSS) 5 s after both say in sync', 'MB', '≤ 150 MB', under(150));
  figures.figure('memory-private', '… peak of its own pages (RssAnon: resident memory without the shared code of its binary and libraries, sampled)', 'MB');
  figures.figure('cpu-initial', '… CPU time of both peers together (user + system)', 's');
  figures.figure('concurrent-conflicts', `Concurrent edits: ${opts.pairs.toLocaleString('en')} notes edited on both sides while cut off, then reconnected: conflict files`, 'count', '0', under(0));
  figures.figure('concurrent-once', '… edits present exactly once in the notes', 'count', `${(2 * opts.pairs).toLocaleString('en')} (all)`, (o) => o === 2 * opts.pairs);
  figures.figure('idle-rate', 'Idle traffic on the link while connected (subtracted above)', 'B/s');
}

async function rawBinding(ctx: Context): Promise<void> {
  const script = join(__dirname, 'raw-peer.js');
  const server = spawn('ip', ['netns', 'exec', ctx.link.b.ns, process.execPath, script, 'serve', ctx.link.b.address], { stdio: ['pipe', 'pipe', 'inherit'] });
  onCleanup('raw binding server', () => void (server.exitCode === null && server.kill('SIGKILL')));
  try {
    const ticket = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]!) as { ticket: string }).ticket);
      });
      server.once('exit', (code) => reject(new Error(`raw binding server exited with ${code}`)));
    });
    const runs = ctx.opts.quick ? 1 : 3;
    const r = spawnSync('ip', ['netns', 'exec', ctx.link.a.ns, process.execPath, script, 'send', ctx.link.a.address, ticket, String(ctx.opts.bigMiB), String(runs)], { encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) throw new Error(`raw binding sender: ${r.stderr}`);
    const { mibPerSecond } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { mibPerSecond: number[] };
    ctx.figures.add('raw-binding', 'vault-peers', mibPerSecond);
    log(`  raw binding, ${ctx.opts.bigMiB} MiB over the link: ${mibPerSecond.map((v) => v.toFixed(1)).join(', ')} MiB/s`);
  } finally {
    server.stdin.end();
    if (server.exitCode === null) server.kill('SIGTERM');
  }
}

/** How each figure was measured, to go under the table. */
function methods(opts: Options): string {
  return [
    'How these were measured:',
    '- Each peer is a separate process in its own network namespace; the two namespaces are joined by one veth pair (MTU 1500, segmentation offload off, IPv6 off) and have no other route. Bytes on the wire are the pair\'s counters, both directions, whole frames with headers, read before and after each figure: the same for both tools, outside both.',
    '- A change has arrived when the other side\'s file holds exactly the expected bytes (SHA-256), or is gone for a delete. One file is read every 2 ms; many files are checked by sweeps over the pending folders (readdir, then size and hash of names that appeared) at most every 25 ms (10 ms for catch-up); the sweep gap is the resolution. Times are the harness\'s clock, from just before it writes the change (or starts both processes).',
    '- "Connected" is the first line in which a tool says so, stamped by the harness when it arrives. "Both say in sync": Syncthing\'s REST API on each side (connected, folder idle, nothing needed, the other\'s index received and 100 % complete), polled every 100 ms; ours: `status --json` on each side (both asked at once, each a process start) shows the other connected, the sync with it live, none of its changes waiting for the other, nothing left to write, and a sync finished after the start; polled every 250 ms.',
    `- Per-change bytes: from just before the change until ${SETTLE_MS / 1000} s after it arrived, minus the link's idle rate over the same time (the median of ten one-second windows, 3 s after the pair last changed anything, before the series: the idle traffic is steady with a rare burst). Changes start after a random pause of up to the watcher delay, so they do not fall in step with Syncthing's periodic flush.`,
    '- Memory: VmHWM, VmRSS and RssAnon from /proc/PID/status of each peer process, sampled every 250 ms; the figure is the larger of the two peers. RSS counts the pages of the binary and libraries it maps (for ours, node and the iroh library: about 53 MB, shared with any other node process); RssAnon leaves them out. Syncthing runs as one process (STMONITORED): its usual monitor process, about 17 MB, is not counted.',
    `- Catch-up: B stopped, K notes edited on A (Syncthing rescans A; ours waits out its watcher), B started; bytes from B's start until both say in sync. Concurrent edits: the link cut with an nftables drop rule, ${opts.pairs} notes edited on both sides (a line near the top on A, near the bottom on B), both sides settle, the link restored; edits counted in the notes and in conflict copies once both folders are identical.`,
    '- Page cache warm for both tools (the vault is generated, then copied, on the same machine); tools alternate who runs first for the repeated initial-sync figures; the 1-minute load average is in the log beside each initial sync (the machine is shared).',
  ].join('\n');
}

function outageTable(results: OutageResults, opts: Options): string {
  const row = (name: string, values: number[], target: string, met?: (median: number, worst: number) => boolean): string => {
    const s = summarize(values.filter((v) => Number.isFinite(v)));
    const verdict = met && s.runs > 0 ? (met(s.median, s.max) ? 'met' : '**not met**') : '';
    return `| ${name} | ${format(s.median, 'ms')} | ${format(s.max, 'ms')} | ${s.runs} | ${target} | ${verdict} |`;
  };
  return [
    '| figure (two `vault-peers run`, each in its namespace) | median | worst | runs | target (issue 9) | |',
    '| --- | --- | --- | --- | --- | --- |',
    row(`Silent outage (nftables drop, ${opts.outageSeconds} s) → noticed by each side`, results.noticedMs, '-'),
    row('… network restored → both connected again', results.backMs, '≤ 2 s median, ≤ 5 s worst', (m, w) => m <= 2_000 && w <= 5_000),
    row('`kill -9` of one peer → the other notices', results.killNoticedMs, '≤ 2 s median', (m) => m <= 2_000),
    row('Peer killed, restarted 2 s later, only the survivor redials → connected (from the restart)', results.survivorRedialMs, '≤ 1 s median', (m) => m <= 1_000),
  ].join('\n');
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  if (process.platform !== 'linux' || process.getuid?.() !== 0) throw new Error('bench:sync needs Linux and root (it makes network namespaces and nftables rules).');
  ensureCommand('ip', 'iproute2', log);
  ensureCommand('nft', 'nftables', log);
  const stale = staleNamespaces();
  if (stale.length) log(`note: namespaces left by an earlier run that was killed: ${stale.join(', ')} (remove with \`ip netns del NAME\`)`);

  const work = mkdtempSync(join(tmpdir(), 'vp-bench-sync-'));
  if (!opts.keep) onCleanup(`work folder ${work}`, () => rmSync(work, { recursive: true, force: true }));
  const logFile = join(work, 'tools.log');
  writeFileSync(logFile, '');
  const link = new Link();
  link.up();
  const figures = new Figures();
  defineFigures(figures, opts);
  const started = now();
  log(`Vault Peers sync benchmark (${opts.quick ? 'quick' : 'full'}): ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load ${loadAverage()}`);
  log(`Link: namespaces ${link.a.ns} (${link.a.address}) and ${link.b.ns} (${link.b.address}), one veth pair, MTU 1500, no offload; work folder ${work}${opts.keep ? ' (kept)' : ''}; tool logs in ${logFile}`);

  const tools: SyncTool[] = [];
  let syncthingVersion: string | null = null;
  let oursSkipped: string | null = null;
  if (opts.outage !== 'only') {
    if (opts.only !== 'vault-peers') {
      syncthingVersion = ensureSyncthing(log);
      tools.push(new Syncthing(link, logFile, syncthingVersion));
    }
    if (opts.only !== 'syncthing') {
      if (VaultPeers.supportsVault()) tools.push(new VaultPeers(link, logFile));
      else {
        oursSkipped = 'this build of `vault-peers run` has no --vault yet';
        if (opts.only === 'vault-peers') throw new Error(`Cannot run ours: ${oursSkipped}.`);
        log(`note: ours not run: ${oursSkipped} (Syncthing alone; --only syncthing says so up front).`);
      }
    }
  }

  let outageResults: OutageResults | null = null;
  const failures: { tool: string; what: string; reason: string }[] = [];
  const ctxBase = { opts, link, work, logFile, figures, log };
  if (opts.outage === 'only') {
    const empty = { dir: '', manifest: { files: [], noteBytes: 0, attachmentBytes: 0, folders: 0, deflateRatio: 1 } };
    log('\nIssue 9: outage, kill -9, survivor redial (headless peers, no vault)');
    outageResults = await outage({ ...ctxBase, notes: empty, attachments: empty });
  } else {
    const t = now();
    const notesDir = join(work, 'master', 'notes');
    const attachmentsDir = join(work, 'master', 'attachments');
    const notes = { dir: notesDir, manifest: generateVault(notesDir, { seed: opts.seed, notes: opts.notes, attachments: 0 }) };
    const attachments = { dir: attachmentsDir, manifest: generateVault(attachmentsDir, { seed: `${opts.seed}:attachments`, notes: 0, attachments: opts.attachments }) };
    log(
      `Vault (seed "${opts.seed}"): ${notes.manifest.files.length} notes, ${(notes.manifest.noteBytes / 1e6).toFixed(1)} MB in ${notes.manifest.folders} folders, ` +
        `deflate ${notes.manifest.deflateRatio.toFixed(2)}× per note (sampled); ${attachments.manifest.files.length} attachments, ${(attachments.manifest.attachmentBytes / 1e6).toFixed(1)} MB; ` +
        `generated in ${((now() - t) / 1000).toFixed(1)} s`,
    );
    const ctx: Context = { ...ctxBase, notes, attachments };

    if (opts.scenarios.has('raw')) {
      log('\nRaw binding throughput over the link');
      await rawBinding(ctx);
    }

    const on = (name: string): boolean => opts.scenarios.has(name);
    /** A failed figure is logged and recorded; the run goes on with the next one. */
    const attempt = async <T>(tool: SyncTool, prefixes: readonly string[], what: string, run: () => Promise<T>): Promise<T | null> => {
      try {
        return await run();
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        log(`  FAILED: ${tool.info.label}, ${what}: ${reason}`);
        failures.push({ tool: tool.info.id, what, reason });
        for (const prefix of prefixes) for (const delay of tool.watcherDelays) figures.fail(prefix, variantOf(tool, delay), reason);
        for (const side of Object.values(peersFor(ctx, tool))) await tool.stop(side).catch(() => undefined);
        return null;
      }
    };
    const LIVE = ['edit', 'rename', 'delete', 'big', 'idle'];
    log(`\nInitial sync into an empty peer, and of identical copies (${opts.runs} run(s) each; tools alternate who goes first)`);
    for (let run = 0; run < opts.runs; run += 1) {
      const order = run % 2 ? [...tools].reverse() : tools;
      if (on('initial')) for (const tool of order) await attempt(tool, ['initial', 'memory', 'cpu'], `initial sync, run ${run + 1}`, () => initialSync(ctx, tool, 'notes', run));
      if (on('identical')) for (const tool of order) await attempt(tool, ['identical'], `identical copies, run ${run + 1}`, () => identicalCopies(ctx, tool, run));
    }
    if (opts.attachments > 0 && on('attachments')) for (const tool of tools) await attempt(tool, ['attachments'], 'attachments', () => initialSync(ctx, tool, 'attachments', 0));

    for (const tool of on('live') || on('catchup') || on('concurrent') ? tools : []) {
      log(`\n${tool.info.label}: live changes, catch-up, concurrent edits`);
      const later = [...(on('live') ? LIVE : []), ...(on('catchup') ? ['catchup'] : []), ...(on('concurrent') ? ['concurrent'] : [])];
      const pair = await attempt(tool, later, 'starting a synced pair', () => livePair(ctx, tool));
      if (!pair) continue;
      const { a, b } = pair;
      // After a failure the pair is stopped: start it again for the next figure.
      const resume = async (): Promise<void> => {
        if (tool.process(a)?.running && tool.process(b)?.running) return;
        const t0 = now();
        if (!tool.process(a)?.running) await tool.start(a);
        if (!tool.process(b)?.running) await tool.start(b);
        await tool.waitInSync(a, b, t0, 300_000);
      };
      try {
        if (on('live')) await attempt(tool, LIVE, 'live changes', () => liveFigures(ctx, tool, a, b));
        for (const k of on('catchup') ? opts.catchUp : []) {
          for (let run = 0; run < opts.catchUpRuns; run += 1) await attempt(tool, [`catchup-${k}-`], `catch-up after ${k}, run ${run + 1}`, async () => {
            await resume();
            await catchUp(ctx, tool, a, b, k, run);
          });
        }
        if (on('concurrent')) await attempt(tool, ['concurrent'], 'concurrent edits', async () => {
          await resume();
          await concurrentEdits(ctx, tool, a, b);
        });
      } finally {
        await tool.stop(a);
        await tool.stop(b);
      }
    }
    if (opts.outage === 'with') {
      log('\nIssue 9: outage, kill -9, survivor redial (headless peers, no vault)');
      try {
        outageResults = await outage(ctx);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        log(`  FAILED: outage figures: ${reason}`);
        failures.push({ tool: 'vault-peers', what: 'outage', reason });
      }
    }
  }

  const variants = ['syncthing', 'syncthing-delay-1'];
  const labels = { syncthing: `${syncthingVersion ? `Syncthing ${/v[\d.]+/.exec(syncthingVersion)?.[0] ?? ''}` : 'Syncthing'} (default, watcher delay 10 s)`, 'syncthing-delay-1': 'Syncthing, watcher delay 1 s' };
  const shown = figures.list.filter((f) => f.results.length > 0 || Object.keys(f.failures).length > 0);
  log(`\nFinished in ${((now() - started) / 60_000).toFixed(1)} min.`);
  if (shown.length) log(`\n${markdownTable(shown, 'vault-peers', variants, labels)}`);
  if (oursSkipped && shown.length) log(`\nOurs: not run (${oursSkipped}).`);
  if (shown.length) log(`\n${methods(opts)}`);
  if (outageResults) log(`\n${outageTable(outageResults, opts)}`);
  if (failures.length) log(`\n${failures.length} figure(s) failed: ${failures.map((f) => `${f.tool}, ${f.what}`).join('; ')} (reasons above and in the JSON).`);

  if (opts.json) {
    const result = {
      date: new Date().toISOString(),
      node: process.version,
      machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), platform: `${process.platform}-${process.arch}`, loadAtEnd: loadAverage() },
      options: { ...opts, scenarios: [...opts.scenarios], json: opts.json ? relative(repoRoot(), opts.json) : null },
      tools: tools.map((t) => t.info),
      oursSkipped,
      failures,
      method: {
        link: 'two network namespaces joined by one veth pair (MTU 1500, gso_max_segs 1, IPv6 off); bytes = the pair\'s counters, both directions, whole frames',
        arrival: 'the other side\'s file holds exactly the expected bytes (SHA-256); one file polled every 2 ms, many files by readdir sweeps (resolution given per figure in the log)',
        memory: '/proc/PID/status VmRSS, VmHWM and RssAnon of each peer process, sampled every 250 ms',
        connected: 'the first line in which the tool says it is connected, stamped by the harness when it arrives',
      },
      figures: figures.list.map((f) => ({ id: f.id, name: f.name, unit: f.unit, target: f.target ?? null, notes: f.notes, results: f.results })),
      outage: outageResults ? { seconds: opts.outageSeconds, ...outageResults } : null,
      variants: { 'vault-peers': 'ours', ...labels },
    };
    // One decimal is more than any figure here resolves.
    const rounded = (_key: string, value: unknown): unknown => (typeof value === 'number' && !Number.isInteger(value) ? Math.round(value * 10) / 10 : value);
    writeFileSync(opts.json, `${JSON.stringify(result, rounded, 2)}\n`);
    log(`\nWritten to ${opts.json}`);
  }
  for (const tool of tools) await tool.dispose();
}

main().then(
  () => {
    cleanupAll();
    process.exit(0);
  },
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    cleanupAll();
    process.exit(1);
  },
);
