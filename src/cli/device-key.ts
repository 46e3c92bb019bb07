import { readFile } from 'node:fs/promises';
import type { DeviceKeyStore } from '../app/peer-node';
import { fromHex, toHex } from '../core/bytes';
import { StorageError } from '../core/errors';
import { createExclusive } from './lock';
import { checkOwnedFile, statIfExists } from './state-dir';

/**
 * The device's secret key in `device.key` (64 hex digits, mode 0600), beside
 * the peers file but never in it. Created exclusively: of two first starts at
 * once, one creates it and the other reads that one.
 */
export function fileDeviceKeys(path: string): DeviceKeyStore {
  const load = async (): Promise<Uint8Array | null> => {
    const st = await statIfExists(path);
    if (!st) return null;
    checkOwnedFile(path, st, true);
    const text = (await readFile(path, 'utf8')).trim();
    const key = text.length === 64 ? fromHex(text) : null;
    if (!key) {
      throw new StorageError(`${path} is damaged: it should hold 64 hex digits. Restore it from a backup; without it this device gets a new identity.`);
    }
    return key;
  };
  return {
    load,
    create: async (key) => {
      if (await createExclusive(path, `${toHex(key)}\n`)) return key;
      const existing = await load();
      if (!existing) throw new StorageError(`${path} appeared and vanished while it was being created. Try again.`);
      return existing;
    },
  };
}
