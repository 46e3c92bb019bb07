/**
 * Vault Peers: the Obsidian plugin. This file only wires: settings and peers
 * from data.json, the device key from device-local storage, the iroh transport
 * (its native module loaded from the plugin's folder), the peer manager, the
 * status view, status bar, commands and settings tab. Unloading tears all of
 * it down.
 */
import { FileSystemAdapter, Notice, Plugin } from 'obsidian';
import { existsSync } from 'fs';
import { filter, fromEvent, merge } from 'rxjs';
import { errorMessage } from './core/errors';
import { NO_SYNC } from './core/no-sync';
import { PeerManager } from './core/peer-manager';
import { IrohTransport, generateSecretKey, parseIrohTicket, useIrohModule } from './transport/iroh-transport';
import { createApi, type VaultPeersApi } from './plugin/api';
import { ConfirmModal, InviteModal, JoinModal, RenameModal } from './plugin/modals';
import { loadNative } from './plugin/native-loader';
import type { PeerActions } from './plugin/peer-row';
import { PluginDataStorage } from './plugin/plugin-storage';
import { DEFAULT_SETTINGS, readSettings, type VaultPeersSettings } from './plugin/settings';
import { VaultPeersSettingTab } from './plugin/settings-tab';
import { renderStatusBar } from './plugin/status-bar';
import { PeerStatusView, STATUS_VIEW_TYPE } from './plugin/status-view';

const DEVICE_KEY = 'vault-peers-device-key';

export default class VaultPeersPlugin extends Plugin {
  /** For other plugins: `app.plugins.getPlugin('vault-peers')?.api`. Null while the plugin is off. */
  api: VaultPeersApi | null = null;
  private manager: PeerManager | null = null;
  private transport: IrohTransport | null = null;
  private pluginSettings: VaultPeersSettings = DEFAULT_SETTINGS;
  private storage: PluginDataStorage | null = null;
  private disabledReason: string | null = null;

  override async onload(): Promise<void> {
    const dataPath = `${this.manifest.dir ?? ''}/data.json`;
    this.storage = new PluginDataStorage(this, { files: this.app.vault.adapter, path: dataPath });
    this.pluginSettings = readSettings(await this.loadData().catch(() => null));
    const actions = this.peerActions();
    this.addSettingTab(
      new VaultPeersSettingTab(this.app, this, {
        manager: () => this.manager,
        actions,
        settings: () => this.pluginSettings,
        saveSettings: (change) => this.saveSettings(change),
        disabledReason: () => this.disabledReason,
      }),
    );
    if (!(await this.start())) return;
    const manager = this.manager!;

    this.registerView(STATUS_VIEW_TYPE, (leaf) => new PeerStatusView(leaf, { manager, actions, addDevice: () => this.addDevice(), joinDevice: () => this.joinDevice() }));
    const bar = this.addStatusBarItem();
    this.registerDomEvent(bar, 'click', () => void this.openStatusView());
    const barSubscription = manager.peerStates$.subscribe((states) => renderStatusBar(bar, states));
    this.register(() => barSubscription.unsubscribe());

    this.addCommand({ id: 'add-device', name: 'Add a device (show an invite)', callback: () => this.addDevice() });
    this.addCommand({ id: 'join-device', name: 'Join a device (paste an invite)', callback: () => this.joinDevice() });
    this.addCommand({ id: 'open-peer-status', name: 'Open peer status', callback: () => void this.openStatusView() });
    this.addCommand({ id: 'connect-all', name: 'Connect all devices', callback: () => void manager.connectAll() });
    this.addCommand({ id: 'disconnect-all', name: 'Disconnect all devices', callback: () => void manager.disconnectAll() });
    // obsidian://vault-peers?invite=VP1... opens "Join a device" with the invite filled in.
    this.registerObsidianProtocolHandler('vault-peers', (params) => this.joinDevice(typeof params.invite === 'string' ? params.invite : ''));

    const notices = manager.events$.subscribe((event) => {
      if (event.type === 'paired') new Notice(`Vault Peers: paired with ${event.name}.`);
      if (event.type === 'pairing-requested') new Notice(`Vault Peers: ${event.name} asks to pair. Answer in the settings.`);
      if (event.type === 'removed-by-peer') new Notice(`Vault Peers: ${manager.getPeer(event.nodeId)?.name ?? 'a device'} removed this device.`);
      if (event.type === 'refused' && event.reason.includes('invite')) new Notice(`Vault Peers: refused a device: ${event.reason}`);
      if (event.type === 'problem') console.warn('Vault Peers:', event.message);
    });
    this.register(() => notices.unsubscribe());
    const problems = manager.loadProblems;
    if (problems.length > 0) {
      const more = problems.length > 2 ? ` (and ${problems.length - 2} more problems)` : '';
      new Notice(`Vault Peers: ${problems.slice(0, 2).join(' ')}${more}`, 15_000);
    }

    this.app.workspace.onLayoutReady(() => void manager.connectAll());
  }

  override onunload(): void {
    void this.stop();
  }

  /** Closes every connection, timer and pipeline, then the endpoint. */
  async stop(): Promise<void> {
    const manager = this.manager;
    const transport = this.transport;
    this.manager = null;
    this.transport = null;
    this.api = null;
    await manager?.destroy();
    await transport?.close();
  }

  /** Loads the native module, the device key and the peers; false (with a notice) when the plugin cannot run here. */
  private async start(): Promise<boolean> {
    const adapter = this.app.vault.adapter;
    const pluginDir = adapter instanceof FileSystemAdapter ? `${adapter.getBasePath()}/${this.manifest.dir ?? ''}` : null;
    const native = pluginDir
      ? loadNative<Parameters<typeof useIrohModule>[0]>(pluginDir, process.platform, process.arch, existsSync, (path) =>
          // eslint-disable-next-line @typescript-eslint/no-require-imports -- a native module loads only by require, and inside Electron only by absolute path
          require(path),
        )
      : ({ ok: false, reason: 'Vault Peers needs the desktop app.' } as const);
    if (!native.ok) return this.disable(native.reason);
    useIrohModule(native.module);
    try {
      this.transport = await IrohTransport.create({
        secretKey: this.deviceKey(),
        deviceName: () => this.pluginSettings.deviceName || this.app.vault.getName(),
        relayMode: this.pluginSettings.relayMode,
        bindAddress: `0.0.0.0:${this.pluginSettings.bindPort}`,
        acceptNode: (nodeId, inviteSecret) => this.manager?.pairing.mayConnect(nodeId, inviteSecret) ?? false,
      });
      this.manager = await PeerManager.open({
        transport: this.transport,
        syncEngine: NO_SYNC,
        storage: this.storage!,
        unknownDevicePolicy: this.pluginSettings.unknownDevices,
        deviceName: () => this.pluginSettings.deviceName || this.app.vault.getName(),
        // Redial at once when the network comes back or the app is in front again.
        redialTriggers$: merge(
          fromEvent(window, 'online'),
          fromEvent(document, 'visibilitychange').pipe(filter(() => document.visibilityState === 'visible')),
        ),
      });
    } catch (error) {
      await this.transport?.close();
      this.transport = null;
      return this.disable(`Vault Peers could not start: ${errorMessage(error)}`);
    }
    this.api = createApi(this.manager);
    return true;
  }

  private disable(reason: string): false {
    this.disabledReason = reason;
    new Notice(reason, 10_000);
    return false;
  }

  /** This device's identity: per vault and per device, never in data.json (which other tools may copy). */
  private deviceKey(): Uint8Array {
    const stored: unknown = this.app.loadLocalStorage(DEVICE_KEY);
    if (typeof stored === 'string' && /^[0-9a-f]{64}$/.test(stored)) return Uint8Array.from(Buffer.from(stored, 'hex'));
    const key = generateSecretKey();
    this.app.saveLocalStorage(DEVICE_KEY, Buffer.from(key).toString('hex'));
    return key;
  }

  private async saveSettings(change: Partial<VaultPeersSettings>): Promise<void> {
    this.pluginSettings = { ...this.pluginSettings, ...change };
    const settings = this.pluginSettings;
    await this.storage!.update((document) => ({ ...document, settings: { ...(document.settings as object | undefined), ...settings } }));
  }

  private peerActions(): PeerActions {
    const report = (promise: Promise<unknown>): void => {
      promise.catch((error: unknown) => new Notice(`Vault Peers: ${errorMessage(error)}`));
    };
    return {
      connect: (nodeId) => report(this.manager?.connectToPeer(nodeId) ?? Promise.resolve()),
      disconnect: (nodeId) => report(this.manager?.disconnectPeer(nodeId) ?? Promise.resolve()),
      setAutoConnect: (nodeId, on) => report(this.manager?.updatePeer(nodeId, { autoConnect: on }) ?? Promise.resolve()),
      rename: (nodeId) => {
        const peer = this.manager?.getPeer(nodeId);
        if (peer) new RenameModal(this.app, peer.name, (name) => this.manager?.updatePeer(nodeId, { name }) ?? Promise.resolve()).open();
      },
      remove: (nodeId) => {
        const peer = this.manager?.getPeer(nodeId);
        if (!peer) return;
        new ConfirmModal(this.app, 'Remove device', `Remove ${peer.name}? It is disconnected and told, and will not sync with this vault until you pair again.`, 'Remove', () =>
          report(this.manager?.removePeer(nodeId) ?? Promise.resolve()),
        ).open();
      },
    };
  }

  private addDevice(): void {
    if (this.manager) new InviteModal(this.app, this.manager).open();
  }

  private joinDevice(invite = ''): void {
    if (this.manager) new JoinModal(this.app, this.manager, parseIrohTicket, invite).open();
  }

  private async openStatusView(): Promise<void> {
    const existing = this.app.workspace.getLeavesOfType(STATUS_VIEW_TYPE)[0];
    const leaf = existing ?? this.app.workspace.getRightLeaf(false);
    if (!leaf) return;
    if (!existing) await leaf.setViewState({ type: STATUS_VIEW_TYPE, active: true });
    await this.app.workspace.revealLeaf(leaf);
  }
}
