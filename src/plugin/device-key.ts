import type { App } from 'obsidian';
import type { DeviceKeyStore } from '../app/peer-node';
import { fromHex, toHex } from '../core/bytes';
import { VaultPeersError } from '../core/errors';

const STORAGE_KEY = 'vault-peers-device-key';

/**
 * This device's identity in Obsidian's device-local storage: per vault and per
 * device, never in data.json, which other tools may copy to other devices.
 */
export function localDeviceKeys(app: App): DeviceKeyStore {
  return {
    load: async () => {
      const stored: unknown = app.loadLocalStorage(STORAGE_KEY);
      if (stored === null || stored === undefined) return null;
      const key = typeof stored === 'string' && stored.length === 64 ? fromHex(stored) : null;
      if (!key) {
        // Replacing it would silently give this device a new identity that no paired device knows.
        throw new VaultPeersError("Vault Peers' device key in this vault's local storage is damaged, so the plugin stays off rather than become a new device.");
      }
      return key;
    },
    create: async (key) => {
      app.saveLocalStorage(STORAGE_KEY, toHex(key));
      return key;
    },
  };
}
