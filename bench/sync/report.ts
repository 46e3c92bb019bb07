/** Figures, their summaries, the Markdown table and the JSON file. */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** The 1-minute load average now: the machine is shared, so every value carries how busy it was. */
function loadNow(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return Number.NaN;
  }
}

export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Nearest-rank 95th percentile (with few runs, the maximum). */
  readonly p95: number;
  readonly runs: number;
  readonly values: number[];
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((x, y) => x - y);
  const n = sorted.length;
  const median = n === 0 ? Number.NaN : n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return { median, min: sorted[0] ?? Number.NaN, max: sorted[n - 1] ?? Number.NaN, p95: sorted[Math.max(0, Math.ceil(0.95 * n) - 1)] ?? Number.NaN, runs: n, values: [...values] };
}

export type Unit = 'ms' | 'B' | 'MiB/s' | 'MB' | 'files' | 'count' | 's' | 'B/s';

export interface Result {
  /** Which tool and variant: "vault-peers", "syncthing", "syncthing, delay 1 s". */
  readonly variant: string;
  readonly summary: Summary;
  /** Which statistic the table shows for it. */
  readonly show?: 'median' | 'p95';
  readonly detail?: string;
  /** The 1-minute load average when each value was taken. */
  readonly loads: number[];
}

export interface Figure {
  readonly id: string;
  readonly name: string;
  readonly unit: Unit;
  readonly target?: string;
  /** Decides `met` for our median (or p95) value, when there is a target. */
  readonly meets?: (ours: number, anchors: Record<string, number>) => boolean;
  readonly results: Result[];
  readonly notes: string[];
  /** Variants whose run of this figure failed, with the reason. */
  readonly failures: Record<string, string>;
}

export class Figures {
  readonly list: Figure[] = [];

  figure(id: string, name: string, unit: Unit, target?: string, meets?: Figure['meets']): Figure {
    let found = this.list.find((f) => f.id === id);
    if (!found) {
      found = { id, name, unit, results: [], notes: [], failures: {}, ...(target ? { target } : {}), ...(meets ? { meets } : {}) };
      this.list.push(found);
    }
    return found;
  }

  add(id: string, variant: string, values: readonly number[], extra: { show?: 'median' | 'p95'; detail?: string } = {}): void {
    const figure = this.list.find((f) => f.id === id);
    if (!figure) throw new Error(`no figure ${id}`);
    const existing = figure.results.findIndex((r) => r.variant === variant);
    const previous = existing >= 0 ? figure.results[existing]! : null;
    const summary = summarize([...(previous?.summary.values ?? []), ...values]);
    const result: Result = { variant, summary, ...extra, loads: [...(previous?.loads ?? []), ...values.map(() => loadNow())] };
    if (existing >= 0) figure.results[existing] = result;
    else figure.results.push(result);
  }

  /** Marks every figure whose id starts with `prefix` as failed for `variant` (unless it has results). */
  fail(prefix: string, variant: string, reason: string): void {
    for (const f of this.list) if (f.id.startsWith(prefix) && !f.results.some((r) => r.variant === variant)) f.failures[variant] = reason;
  }

  note(id: string, text: string): void {
    this.list.find((f) => f.id === id)?.notes.push(text);
  }
}

export function format(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return '-';
  switch (unit) {
    case 'ms':
      return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : value >= 1_000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
    case 's':
      return `${value.toFixed(value >= 10 ? 1 : 2)} s`;
    case 'B':
      return value >= 1e6 ? `${(value / 1e6).toFixed(value >= 1e8 ? 0 : 2)} MB` : value >= 1e4 ? `${(value / 1e3).toFixed(1)} KB` : `${Math.round(value)} B`;
    case 'B/s':
      return `${Math.round(value)} B/s`;
    case 'MB':
      return `${value.toFixed(value >= 100 ? 0 : 1)} MB`;
    case 'MiB/s':
      return `${value.toFixed(1)} MiB/s`;
    default:
      return `${Math.round(value * 100) / 100}`;
  }
}

function cell(result: Result | undefined, unit: Unit, failure?: string): string {
  if (!result) return failure ? 'failed (see the log)' : '-';
  const s = result.summary;
  const shown = result.show === 'p95' ? s.p95 : s.median;
  const spread = s.runs > 1 ? ` (${format(s.min, unit)}–${format(s.max, unit)}, n=${s.runs})` : ' (n=1)';
  const load = Math.max(...result.loads);
  const busy = load > cpus().length ? `; machine busy, load up to ${load.toFixed(1)}` : '';
  return `${format(shown, unit)}${spread}${result.detail ? `; ${result.detail}` : ''}${busy}`;
}

/** The table for docs/BENCHMARKS.md: one row per figure, ours beside each anchor variant. */
export function markdownTable(figures: readonly Figure[], oursId: string, anchorVariants: readonly string[], anchorLabels: Record<string, string>): string {
  const head = `| figure | ours | ${anchorVariants.map((v) => anchorLabels[v] ?? v).join(' | ')} | target | |`;
  const rule = `| --- | --- | ${anchorVariants.map(() => '---').join(' | ')} | --- | --- |`;
  const rows = figures.map((f) => {
    const ours = f.results.find((r) => r.variant === oursId);
    const anchors = anchorVariants.map((v) => f.results.find((r) => r.variant === v));
    const anchorValues: Record<string, number> = {};
    for (const r of f.results) anchorValues[r.variant] = r.show === 'p95' ? r.summary.p95 : r.summary.median;
    let met = '';
    if (f.meets && ours) met = f.meets(ours.show === 'p95' ? ours.summary.p95 : ours.summary.median, anchorValues) ? 'met' : '**not met**';
    else if (f.target && !ours) met = 'not run';
    const oursCell = ours ? cell(ours, f.unit) : f.failures[oursId] ? 'failed (see the log)' : 'not run';
    return `| ${f.name} | ${oursCell} | ${anchors.map((r, i) => cell(r, f.unit, f.failures[anchorVariants[i]!])).join(' | ')} | ${f.target ?? '-'} | ${met} |`;
  });
  return [head, rule, ...rows].join('\n');
}
