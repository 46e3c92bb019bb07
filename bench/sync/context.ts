/** What every scenario shares: options, the link, the generated vault, the figures, and small helpers. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Link, LinkBytes } from './netns';
import type { Figures } from './report';
import type { Peer, SideName, SyncTool } from './tool';
import type { Expected } from './observe';
import { rng, type Manifest, type VaultFile } from './vault';

export interface Options {
  readonly quick: boolean;
  readonly only: 'both' | 'syncthing' | 'vault-peers';
  readonly seed: string;
  readonly notes: number;
  readonly attachments: number;
  readonly bigMiB: number;
  /** Repeats of each initial-sync figure. */
  readonly runs: number;
  readonly edits: number;
  /** Repeats of rename and of delete. */
  readonly moves: number;
  readonly bigRuns: number;
  readonly catchUp: readonly number[];
  readonly catchUpRuns: number;
  readonly pairs: number;
  readonly outage: 'with' | 'only' | 'without';
  readonly outageSeconds: number;
  readonly outageRuns: number;
  /** Which scenarios to run (all by default): raw, initial, identical, attachments, live, catchup, concurrent. */
  readonly scenarios: ReadonlySet<string>;
  readonly keep: boolean;
  readonly json: string | null;
}

export interface Context {
  readonly opts: Options;
  readonly link: Link;
  readonly work: string;
  readonly logFile: string;
  readonly figures: Figures;
  /** The generated notes (a folder to copy from) and their manifest. */
  readonly notes: { readonly dir: string; readonly manifest: Manifest };
  readonly attachments: { readonly dir: string; readonly manifest: Manifest };
  log(line: string): void;
}

export const now = (): number => performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function total(bytes: LinkBytes): number {
  return bytes.aToB + bytes.bToA;
}

export function expectedOf(files: readonly VaultFile[]): Map<string, Expected> {
  return new Map(files.map((f) => [f.path, { bytes: f.bytes, sha256: f.sha256 }]));
}

/** Copies a folder's content (keeping modification times) into `to`, which is emptied first. */
export function copyTree(from: string, to: string): void {
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  const r = spawnSync('cp', ['-a', `${from}/.`, to], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cp -a ${from} ${to}: ${r.stderr}`);
}

/** The 1-minute load average: the machine is shared, so each figure records how busy it was. */
export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** The two peers of one tool, in folders of their own under the run's work folder. */
export function peersFor(ctx: Context, tool: SyncTool): { a: Peer; b: Peer } {
  const make = (name: SideName): Peer => ({
    name,
    side: name === 'a' ? ctx.link.a : ctx.link.b,
    vault: join(ctx.work, tool.info.id, name, 'vault'),
    home: join(ctx.work, tool.info.id, name, 'home'),
  });
  return { a: make('a'), b: make('b') };
}

/** A deterministic choice of distinct notes for one purpose (a seed per figure keeps figures from sharing notes). */
export function pickNotes(ctx: Context, purpose: string, count: number, filter: (f: VaultFile) => boolean = () => true): VaultFile[] {
  const random = rng(`${ctx.opts.seed}:${purpose}`);
  const pool = ctx.notes.manifest.files.filter(filter);
  const out: VaultFile[] = [];
  const used = new Set<number>();
  while (out.length < Math.min(count, pool.length)) {
    const i = Math.floor(random() * pool.length);
    if (used.has(i)) continue;
    used.add(i);
    out.push(pool[i]!);
  }
  return out;
}

/** One line of prose in the middle of a note gets a few words more: the "one-line edit". */
export function editOneLine(text: string, marker: string): string {
  const lines = text.split('\n');
  const middle = Math.floor(lines.length / 2);
  let fence = false;
  const prose: number[] = [];
  lines.forEach((line, i) => {
    if (line.startsWith('```')) fence = !fence;
    else if (!fence && line.length > 30 && !line.startsWith('|') && !line.startsWith('---')) prose.push(i);
  });
  const index = prose.length ? prose.reduce((best, i) => (Math.abs(i - middle) < Math.abs(best - middle) ? i : best)) : lines.length - 1;
  lines[index] = `${lines[index]} ${marker}`;
  return lines.join('\n');
}

/** Inserts a line of its own at `fraction` of the note (0: top, 1: bottom), between blocks. */
export function insertLine(text: string, line: string, fraction: number): string {
  const lines = text.split('\n');
  let fence = false;
  const gaps: number[] = [];
  lines.forEach((l, i) => {
    if (l.startsWith('```')) fence = !fence;
    else if (!fence && l === '' && i > 0) gaps.push(i);
  });
  const at = gaps.length ? gaps[Math.min(gaps.length - 1, Math.floor(fraction * gaps.length))]! : lines.length;
  lines.splice(at, 0, '', line);
  return lines.join('\n');
}
