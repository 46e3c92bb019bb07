/**
 * The `settings` section of the peers document: the plugin's data.json and the
 * headless peer's peers.json share it, with one spelling of each key, so a
 * file copied from one to the other means the same thing.
 */
import { MAX_NAME_LENGTH } from '../core/model';
import type { UnknownDevicePolicy } from '../core/ports';
import { defaultFilter, type FilterSettings } from '../sync';
import type { RelayModeSetting } from '../transport/iroh-transport';

export interface DeviceSettings {
  /** Announced to paired devices. Empty: the vault's name (plugin) or the host name (headless peer). */
  readonly deviceName: string;
  /** What to do with a device that connects without an invite. */
  readonly unknownDevices: UnknownDevicePolicy;
  /** `default`: n0's relays reach devices across networks. `disabled`: direct addresses only. */
  readonly relayMode: RelayModeSetting;
  /**
   * The UDP port to listen on; 0 picks a free one at each start. Null until
   * chosen: the headless peer then keeps the first port it gets, so a ticket
   * it handed out stays valid across restarts; the plugin picks a free one.
   */
  readonly port: number | null;
  /** Whether files other than notes (images, PDFs...) are synced. */
  readonly attachments: boolean;
  /** Extra exclude patterns (the engine's glob: `*`, `**`, `?`; a leading `/` anchors at the vault's root). */
  readonly exclude: readonly string[];
  /** Files larger than this many bytes are not synced; 0: no limit. */
  readonly maxFileBytes: number;
  /** Paired devices (node ids) this device does not sync with: they stay paired and may connect. */
  readonly syncOff: readonly string[];
}

export const DEFAULT_SETTINGS: DeviceSettings = Object.freeze({
  deviceName: '',
  unknownDevices: 'reject',
  relayMode: 'default',
  port: null,
  attachments: true,
  exclude: Object.freeze([]),
  maxFileBytes: 0,
  syncOff: Object.freeze([]),
});

/** At most this many exclude patterns, each at most this long: enough for a person, bounded for a damaged file. */
export const MAX_EXCLUDES = 200;
const MAX_PATTERN_LENGTH = 500;
const NODE_ID = /^[0-9a-f]{64}$/u;

/** Keys of earlier versions, by the key that replaced them. */
const RENAMED: Readonly<Record<string, keyof DeviceSettings>> = {
  // The plugin's first versions wrote `bindPort`; the headless peer wrote `port`.
  bindPort: 'port',
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sectionOf(document: unknown): Record<string, unknown> | null {
  return isRecord(document) && isRecord(document.settings) ? document.settings : null;
}

export function validPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 65_536;
}

/** A device name as stored: trimmed and capped. */
export function cleanDeviceName(name: string): string {
  return [...name.trim()].slice(0, MAX_NAME_LENGTH).join('').trim();
}

/** Exclude patterns as a person typed them (one a line): trimmed, empty lines and repeats dropped, bounded. */
export function cleanExcludes(patterns: readonly unknown[]): string[] {
  const clean = patterns.filter((p): p is string => typeof p === 'string').map((p) => p.trim());
  return [...new Set(clean.filter((p) => p !== '' && p.length <= MAX_PATTERN_LENGTH))].slice(0, MAX_EXCLUDES);
}

/** What the sync engine is told to sync on a host whose config folder is `configDir` (never synced). */
export function filterOf(settings: DeviceSettings, configDir: string): FilterSettings {
  return { ...defaultFilter(configDir), attachments: settings.attachments, exclude: settings.exclude, maxFileBytes: settings.maxFileBytes };
}

/**
 * The settings of a peers document, field by field: a missing or bad field
 * falls back to its default and the rest are kept. Reads old spellings too.
 */
export function readSettings(document: unknown): DeviceSettings {
  const raw = sectionOf(document);
  if (!raw) return DEFAULT_SETTINGS;
  const { deviceName, unknownDevices, relayMode, attachments, exclude, maxFileBytes, syncOff } = raw;
  const port = raw.port ?? raw.bindPort;
  return {
    deviceName: typeof deviceName === 'string' ? cleanDeviceName(deviceName) : DEFAULT_SETTINGS.deviceName,
    unknownDevices: unknownDevices === 'ask' || unknownDevices === 'reject' ? unknownDevices : DEFAULT_SETTINGS.unknownDevices,
    relayMode: relayMode === 'default' || relayMode === 'disabled' ? relayMode : DEFAULT_SETTINGS.relayMode,
    port: validPort(port) ? port : DEFAULT_SETTINGS.port,
    attachments: typeof attachments === 'boolean' ? attachments : DEFAULT_SETTINGS.attachments,
    exclude: Array.isArray(exclude) ? cleanExcludes(exclude) : DEFAULT_SETTINGS.exclude,
    maxFileBytes: typeof maxFileBytes === 'number' && Number.isSafeInteger(maxFileBytes) && maxFileBytes >= 0 ? maxFileBytes : DEFAULT_SETTINGS.maxFileBytes,
    syncOff: Array.isArray(syncOff) ? [...new Set(syncOff.filter((id): id is string => typeof id === 'string' && NODE_ID.test(id)))] : DEFAULT_SETTINGS.syncOff,
  };
}

/**
 * The document with old setting keys renamed to today's, or null when it has
 * none. Every other key of the document and of its settings is kept as it is;
 * where both spellings are present, today's wins and the old one is dropped.
 */
export function migrateSettings(document: Record<string, unknown>): Record<string, unknown> | null {
  const raw = sectionOf(document);
  if (!raw || !Object.keys(RENAMED).some((old) => old in raw)) return null;
  const settings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const renamed = RENAMED[key];
    if (renamed === undefined) settings[key] = value;
    else if (!(renamed in raw)) settings[renamed] = value;
  }
  return { ...document, settings };
}

/** The document with `changes` written into its settings, keeping every other key (and migrating old ones). */
export function withSettings(document: Record<string, unknown>, changes: Partial<DeviceSettings>): Record<string, unknown> {
  const migrated = migrateSettings(document) ?? document;
  return { ...migrated, settings: { ...(sectionOf(migrated) ?? {}), ...changes } };
}
