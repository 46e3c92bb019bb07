import { FileSystemAdapter, type App, type PluginManifest } from 'obsidian';
import { existsSync } from 'fs';
import { filter, fromEvent, merge } from 'rxjs';
import { openPeerNode, type ClosableSyncEngine, type PeerNode } from '../app/peer-node';
import { errorMessage } from '../core/errors';
import type { PeerStorage } from '../core/ports';
import { useIrohModule } from '../transport/iroh-transport';
import { localDeviceKeys } from './device-key';
import { loadNative } from './native-loader';
import type { PluginSettings } from './settings';

export type Started = { readonly ok: true; readonly node: PeerNode } | { readonly ok: false; readonly reason: string };

/**
 * Loads iroh's native module from the plugin's folder, then opens this device
 * through the wiring the headless peer uses too. Says in words why it cannot.
 * `sync` is what the connections sync through; the node closes it first when
 * it closes.
 */
export async function startPeerNode(app: App, manifest: PluginManifest, settings: PluginSettings, storage: PeerStorage, sync: ClosableSyncEngine): Promise<Started> {
  const adapter = app.vault.adapter;
  if (!(adapter instanceof FileSystemAdapter)) return { ok: false, reason: 'Vault Peers needs the desktop app.' };
  const pluginDir = `${adapter.getBasePath()}/${manifest.dir ?? ''}`;
  const native = loadNative<Parameters<typeof useIrohModule>[0]>(pluginDir, process.platform, process.arch, existsSync, (path) =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a native module loads only by require, and inside Electron only by absolute path
    require(path),
  );
  if (!native.ok) return native;
  useIrohModule(native.module);
  const { relayMode, port, unknownDevices } = settings.current;
  try {
    const node = await openPeerNode({
      keys: localDeviceKeys(app),
      storage,
      deviceName: () => settings.current.deviceName || app.vault.getName(),
      unknownDevicePolicy: unknownDevices,
      // The vault's engine opens later, once the layout is ready; until then a connection's sync waits in the gate.
      openSync: () => Promise.resolve(sync),
      network: { relayMode, bindAddress: `0.0.0.0:${port ?? 0}` },
      // Redial at once when the network comes back or the app is in front again.
      redialTriggers$: merge(
        fromEvent(window, 'online'),
        fromEvent(document, 'visibilitychange').pipe(filter(() => document.visibilityState === 'visible')),
      ),
    });
    return { ok: true, node };
  } catch (error) {
    return { ok: false, reason: `Vault Peers could not start: ${errorMessage(error)}` };
  }
}
