/**
 * What the headless peer syncs: attachments or notes only, patterns of
 * paths left out, and the largest file. The same settings (and keys) as the
 * plugin's "What to sync", stored in peers.json; the engine reads them when
 * `run` starts.
 */
import { MAX_EXCLUDES, cleanExcludes, type DeviceSettings } from '../app/settings';
import { command, UsageError, type CommandInput } from './command';
import { sizeText } from './terminal';

type Change =
  | { readonly kind: 'show' }
  | { readonly kind: 'attachments'; readonly on: boolean }
  | { readonly kind: 'max-size'; readonly bytes: number }
  | { readonly kind: 'exclude'; readonly add: boolean; readonly pattern: string };

const USAGE = 'settings [attachments on|off | max-size <size|off> | exclude add|remove <pattern>]';

const UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12 };

/** `50MB`, `1.5 GB`, `700kb`, `off` (no limit): bytes, 0 for no limit. */
export function parseSize(text: string): number {
  const value = text.trim().toLowerCase();
  if (value === 'off' || value === 'none' || value === '0') return 0;
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)$/u.exec(value);
  const bytes = match ? Math.round(Number(match[1]) * UNITS[match[2]!]!) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new UsageError(`"${text}" is not a size: write it like 50MB or 1.5GB, or off for no limit.`);
  return bytes;
}

function changeOf({ args }: CommandInput): Change {
  const [what, value, pattern] = args;
  if (what === undefined) return { kind: 'show' };
  if (what === 'attachments' && (value === 'on' || value === 'off') && args.length === 2) return { kind: 'attachments', on: value === 'on' };
  if (what === 'max-size' && value !== undefined && args.length === 2) return { kind: 'max-size', bytes: parseSize(value) };
  if (what === 'exclude' && (value === 'add' || value === 'remove') && pattern !== undefined) {
    const [clean] = cleanExcludes([pattern]);
    if (clean === undefined) throw new UsageError(`"${pattern}" is not a pattern: write a path or a glob, such as Private/** or *.mp4.`);
    return { kind: 'exclude', add: value === 'add', pattern: clean };
  }
  throw new UsageError(`Usage: vault-peers ${USAGE}`);
}

function changed(settings: DeviceSettings, change: Change): Partial<DeviceSettings> | null {
  switch (change.kind) {
    case 'show':
      return null;
    case 'attachments':
      return { attachments: change.on };
    case 'max-size':
      return { maxFileBytes: change.bytes };
    case 'exclude': {
      const without = settings.exclude.filter((p) => p !== change.pattern);
      if (change.add && settings.exclude.length >= MAX_EXCLUDES && without.length === settings.exclude.length) {
        throw new UsageError(`There are ${MAX_EXCLUDES} exclude patterns already; remove one first.`);
      }
      return { exclude: change.add ? [...without, change.pattern] : without };
    }
  }
}

export type SyncSettingsResult = {
  readonly attachments: boolean;
  readonly exclude: readonly string[];
  readonly maxFileBytes: number;
  /** Whether anything was changed (and stored). */
  readonly changed: boolean;
  /** A `run` is syncing with the settings it started with. */
  readonly running: boolean;
};

export const settings = command<SyncSettingsResult>({
  usage: USAGE,
  summary: 'What is synced: attachments, paths left out, the largest file.',
  arity: [0, 3],
  needs: 'state',
  check: (input) => void changeOf(input),
  run: async ({ host }, input) => {
    const change = changed(host.settings, changeOf(input));
    if (change) await host.saveSettings(change);
    const { attachments, exclude, maxFileBytes } = host.settings;
    return { attachments, exclude, maxFileBytes, changed: change !== null, running: host.sync !== null };
  },
  format: (result) => {
    const lines = [
      `Attachments: ${result.attachments ? 'synced' : 'not synced (notes only)'}.`,
      `Largest file synced: ${result.maxFileBytes > 0 ? sizeText(result.maxFileBytes) : 'no limit'}.`,
      result.exclude.length > 0 ? `Left out (${result.exclude.length}): ${result.exclude.join(', ')}` : 'Left out: nothing beyond hidden folders and the Obsidian config folder.',
    ];
    if (result.changed) lines.push(result.running ? 'Stored; `vault-peers run` uses it from its next start (restart it now to apply).' : 'Stored; `vault-peers run` uses it from its next start.');
    return lines.join('\n');
  },
});
