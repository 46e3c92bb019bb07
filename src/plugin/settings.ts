import { MAX_NAME_LENGTH } from '../core/model';
import type { UnknownDevicePolicy } from '../core/ports';
import type { RelayModeSetting } from '../transport/iroh-transport';

/** The plugin's own settings, kept under `settings` in data.json beside the peers. */
export interface VaultPeersSettings {
  /** Announced to paired devices. Empty: the vault's name is used. */
  readonly deviceName: string;
  readonly unknownDevices: UnknownDevicePolicy;
  readonly relayMode: RelayModeSetting;
  /** 0 picks a free port at each start. */
  readonly bindPort: number;
}

export const DEFAULT_SETTINGS: VaultPeersSettings = {
  deviceName: '',
  unknownDevices: 'reject',
  relayMode: 'default',
  bindPort: 0,
};

/** Settings as stored, field by field: a bad field falls back to its default and the rest are kept. */
export function readSettings(document: unknown): VaultPeersSettings {
  const raw =
    typeof document === 'object' && document !== null && !Array.isArray(document)
      ? (document as Record<string, unknown>).settings
      : undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return DEFAULT_SETTINGS;
  const { deviceName, unknownDevices, relayMode, bindPort } = raw as Record<string, unknown>;
  return {
    deviceName: typeof deviceName === 'string' ? deviceName.trim().slice(0, MAX_NAME_LENGTH) : DEFAULT_SETTINGS.deviceName,
    unknownDevices: unknownDevices === 'ask' || unknownDevices === 'reject' ? unknownDevices : DEFAULT_SETTINGS.unknownDevices,
    relayMode: relayMode === 'default' || relayMode === 'disabled' ? relayMode : DEFAULT_SETTINGS.relayMode,
    bindPort:
      typeof bindPort === 'number' && Number.isInteger(bindPort) && bindPort >= 0 && bindPort < 65_536 ? bindPort : DEFAULT_SETTINGS.bindPort,
  };
}
