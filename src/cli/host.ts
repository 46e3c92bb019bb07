/**
 * The process that holds a state directory: it took the lock, it alone reads
 * and writes the peers file and the key, and it serves the other commands
 * over the control socket. `run` holds it for its whole life; any other
 * command holds it only while no `run` is up, for as long as it runs.
 */
import { NEVER, asyncScheduler, distinctUntilChanged, map, skip, timer, type Observable, type SchedulerLike } from 'rxjs';
import { hostname, networkInterfaces } from 'node:os';
import { openPeerNode, type PeerNode } from '../app/peer-node';
import { cleanDeviceName, filterOf, migrateSettings, readSettings, withSettings, type DeviceSettings } from '../app/settings';
import { StorageError } from '../core/errors';
import type { RelayModeSetting } from '../transport/iroh-transport';
import { fileDeviceKeys } from './device-key';
import { JsonFileStorage, removeTemporaryFiles } from './json-file';
import { CONFIG_FOLDER, checkVault, openSyncedVault, type SyncedVault } from './synced-vault';
import type { StateLock } from './lock';
import type { StateDir } from './state-dir';

export interface HostOptions {
  /** `--device-name`: stored when it differs. */
  readonly deviceName?: string;
  /** `--relay`; the stored setting otherwise. */
  readonly relay?: RelayModeSetting;
  /** `--bind HOST[:PORT]`; without a port, the stored one. */
  readonly bind?: string;
  /** Whether to go online (an endpoint) or only edit the stored state. */
  readonly online: boolean;
  /** Whether this is `run`, which alone serves `connect` and `disconnect`. */
  readonly daemon: boolean;
  /** `run --vault DIR`: the folder to sync from now on (stored). `run` without it syncs the stored one. */
  readonly vault?: string;
}

export interface Host {
  readonly state: StateDir;
  readonly node: PeerNode;
  readonly online: boolean;
  readonly daemon: boolean;
  readonly deviceName: string;
  readonly settings: DeviceSettings;
  /** What was wrong with the stored peers (entries skipped, a backup kept). */
  readonly warnings: readonly string[];
  /** The folder this device syncs (stored), or null when none was chosen yet. */
  readonly vault: string | null;
  /** The folder synced until this `run --vault` chose another, if it did. */
  readonly previousVault: string | null;
  /** The running sync of that folder: only `run` syncs. */
  readonly sync: SyncedVault | null;
  /** Writes settings through the same queue as every other write of the peers file. */
  saveSettings(change: Partial<DeviceSettings>): Promise<void>;
  /** Closes the node, then releases the directory. Idempotent. */
  close(): Promise<void>;
}

/** The machine's interface addresses, as one comparable string. */
function interfaceFingerprint(): string {
  return JSON.stringify(
    Object.entries(networkInterfaces())
      .flatMap(([name, addresses]) => (addresses ?? []).map((a) => `${name}/${a.address}`))
      .sort(),
  );
}

/**
 * Emits when the machine's network interfaces change (a Wi-Fi switch, a cable
 * plugged in). The first reading, taken at subscription, is the baseline.
 */
export function networkChanges(everyMs = 5_000, scheduler: SchedulerLike = asyncScheduler, read: () => string = interfaceFingerprint): Observable<unknown> {
  return timer(0, everyMs, scheduler).pipe(map(read), distinctUntilChanged(), skip(1));
}

/** `host:port` for the transport: the port given, else the stored one, else any free one. */
export function bindAddress(bind: string | undefined, settings: DeviceSettings): string {
  const host = bind ?? '0.0.0.0';
  const hasPort = /:\d+$/.test(host) && !host.endsWith(']');
  return hasPort ? host : `${host}:${settings.port ?? 0}`;
}

/**
 * Reads the peers file before anything else touches it. A file that cannot be
 * read at all (not UTF-8, not JSON, not an object) stops the command with the
 * reason, after a copy of it is kept beside it; it is never written over.
 */
async function readDocument(storage: JsonFileStorage): Promise<Record<string, unknown>> {
  let raw: unknown;
  try {
    raw = await storage.load();
  } catch (error) {
    if (!(error instanceof StorageError)) throw error;
    const copy = await storage.backup().catch(() => null);
    throw new StorageError(copy ? `${error.message} A copy is kept at ${copy}.` : error.message);
  }
  if (raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new StorageError(`${storage.path} is damaged: it does not hold an object. Fix or move it away; it was not changed.`);
  }
  return raw as Record<string, unknown>;
}

/** The folder `run --vault` stored (`settings.vault`, headless peer only: the plugin syncs its own vault). */
function storedVault(document: Record<string, unknown>): string | null {
  const settings = document.settings;
  if (typeof settings !== 'object' || settings === null) return null;
  const vault = (settings as Record<string, unknown>).vault;
  return typeof vault === 'string' && vault !== '' ? vault : null;
}

function withVault(document: Record<string, unknown>, vault: string): Record<string, unknown> {
  const settings = typeof document.settings === 'object' && document.settings !== null ? document.settings : {};
  return { ...document, settings: { ...settings, vault } };
}

/** Opens the node of a state directory this process holds the lock of. The lock is released when it closes (or fails to open). */
export async function openHost(state: StateDir, lock: StateLock, options: HostOptions): Promise<Host> {
  try {
    const storage = new JsonFileStorage(state.peersPath);
    await removeTemporaryFiles(state.peersPath);
    await removeTemporaryFiles(state.keyPath);
    const document = await readDocument(storage);
    if (migrateSettings(document)) await storage.update((current) => migrateSettings(current) ?? current);
    let settings = readSettings(document);
    const saveSettings = async (change: Partial<DeviceSettings>): Promise<void> => {
      settings = { ...settings, ...change };
      await storage.update((current) => withSettings(current, change));
    };
    const given = cleanDeviceName(options.deviceName ?? '');
    if (given && given !== settings.deviceName) await saveSettings({ deviceName: given });
    const deviceName = settings.deviceName || cleanDeviceName(hostname());

    // Only `run` syncs, and only a folder that passes the checks; the choice is stored once it does.
    const stored = storedVault(document);
    const wanted = options.daemon ? (options.vault ?? stored) : null;
    const choice = wanted === null ? null : await checkVault(wanted, state, options.vault === undefined);
    let sync: SyncedVault | null = null;
    const node = await openPeerNode({
      ...(choice ? { openSync: async (nodeId: string) => (sync = await openSyncedVault(choice, state, nodeId, filterOf(settings, CONFIG_FOLDER))) } : {}),
      keys: fileDeviceKeys(state.keyPath),
      storage,
      deviceName: () => deviceName,
      unknownDevicePolicy: settings.unknownDevices,
      network: options.online ? { bindAddress: bindAddress(options.bind, settings), relayMode: options.relay ?? settings.relayMode } : 'offline',
      redialTriggers$: options.online ? networkChanges() : NEVER,
    });
    // Stored once it opened, so a later `run` keeps syncing it.
    if (choice && choice.path !== stored) {
      await storage.update((current) => withVault(current, choice.path)).catch(async (error: unknown) => {
        await node.close();
        throw error;
      });
    }
    // Kept from the first start, so a ticket handed out stays valid across restarts.
    const port = Number(node.endpoint?.boundSockets[0]?.split(':').pop());
    if (settings.port === null && Number.isInteger(port) && port > 0) await saveSettings({ port }).catch(() => undefined);

    let closing: Promise<void> | null = null;
    return {
      state,
      node,
      online: options.online,
      daemon: options.daemon,
      deviceName,
      get settings() {
        return settings;
      },
      warnings: node.manager.loadProblems,
      vault: choice?.path ?? stored,
      previousVault: choice && stored !== null && choice.path !== stored ? stored : null,
      sync,
      saveSettings,
      close: () =>
        (closing ??= (async () => {
          try {
            await node.close();
          } finally {
            await lock.release();
          }
        })()),
    };
  } catch (error) {
    await lock.release();
    throw error;
  }
}
