import { chmod, copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { StorageError, errorMessage } from '../core/errors';
import { MAX_NAME_LENGTH } from '../core/model';
import { parsePeersDocument } from '../core/persistence';
import type { PeerStorage } from '../core/ports';

/** Writes a file so that a crash leaves either the old or the new content, never half of one. */
export async function writeFileAtomic(path: string, text: string, mode = 0o600): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, text, { mode, flush: true });
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** The peers document as a JSON file, same shape as the plugin's data.json. */
export class JsonFileStorage implements PeerStorage {
  constructor(readonly path: string) {}

  async load(): Promise<unknown> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new StorageError(`${this.path} could not be read: ${errorMessage(error)}`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new StorageError(`${this.path} is not valid JSON (${errorMessage(error)}). Fix or move it away; it was not changed.`);
    }
  }

  async save(document: Record<string, unknown>): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(document, null, 2)}\n`);
  }

  /** Copies the file as it is to `<file>.damaged-<hash>`: one copy per distinct content, however often it loads. */
  async backup(): Promise<string | null> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path);
    } catch {
      return null;
    }
    const target = `${this.path}.damaged-${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}`;
    await copyFile(this.path, target);
    return target;
  }
}

export interface HeadlessSettings {
  deviceName?: string;
  /** The port this device listens on, kept so tickets handed out stay valid across restarts. */
  port?: number;
  /** What to do with devices that connect without an invite. */
  unknownDevices?: 'reject' | 'ask';
}

export interface StateDir {
  readonly dir: string;
  readonly storage: JsonFileStorage;
  readonly keyPath: string;
}

export function stateDir(dir: string): StateDir {
  return { dir, storage: new JsonFileStorage(join(dir, 'peers.json')), keyPath: join(dir, 'device.key') };
}

/**
 * Reads the document and fails with a one-line reason if it is damaged as a
 * whole; damaged entries only produce warnings (they are kept in the file).
 */
export async function readDocument(state: StateDir): Promise<{ document: Record<string, unknown>; warnings: string[] }> {
  const raw = await state.storage.load();
  const parsed = parsePeersDocument(raw);
  return { document: (raw as Record<string, unknown> | null) ?? {}, warnings: parsed.problems };
}

export function settingsOf(document: Record<string, unknown>): HeadlessSettings {
  const settings = document.settings;
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) return {};
  const { deviceName, port, unknownDevices } = settings as Record<string, unknown>;
  return {
    ...(typeof deviceName === 'string' && deviceName.trim() ? { deviceName: deviceName.trim().slice(0, MAX_NAME_LENGTH) } : {}),
    ...(typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65_536 ? { port } : {}),
    ...(unknownDevices === 'reject' || unknownDevices === 'ask' ? { unknownDevices } : {}),
  };
}

/** Changes keys of `settings`, keeping every other key of the document and of settings. */
export async function updateSettings(state: StateDir, changes: HeadlessSettings): Promise<void> {
  const { document } = await readDocument(state);
  const previous = typeof document.settings === 'object' && document.settings !== null ? document.settings : {};
  await state.storage.save({ ...document, settings: { ...previous, ...changes } });
}

/** The device's secret key, created on first use; never stored in the peers document. */
export async function loadOrCreateKey(state: StateDir, create: () => Uint8Array): Promise<Uint8Array> {
  await mkdir(state.dir, { recursive: true, mode: 0o700 });
  let text: string | null = null;
  try {
    text = (await readFile(state.keyPath, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text === null) {
    const key = create();
    await writeFileAtomic(state.keyPath, `${Buffer.from(key).toString('hex')}\n`);
    await chmod(state.keyPath, 0o600);
    return key;
  }
  if (!/^[0-9a-f]{64}$/.test(text)) {
    throw new StorageError(`${state.keyPath} is damaged: it should hold 64 hex digits. Restore it from a backup; without it this device gets a new identity.`);
  }
  return Uint8Array.from(Buffer.from(text, 'hex'));
}
