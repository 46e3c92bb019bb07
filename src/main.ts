/**
 * Vault Peers: the Obsidian plugin. This file only wires: settings and peers
 * from data.json, this device through the wiring shared with the headless peer
 * (src/app), then the status view, status bar, commands, notices and settings
 * tab. Unloading tears all of it down.
 */
import { Notice, Plugin } from 'obsidian';
import type { PeerNode } from './app/peer-node';
import { PluginActions } from './plugin/actions';
import { createApi, type VaultPeersApi } from './plugin/api';
import { showLoadProblems, showPeerNotices } from './plugin/notices';
import { PluginDataStorage } from './plugin/plugin-storage';
import { PluginSettings } from './plugin/settings';
import { VaultPeersSettingTab } from './plugin/settings-tab';
import { startPeerNode } from './plugin/start';
import { renderStatusBar } from './plugin/status-bar';
import { PeerStatusView, STATUS_VIEW_TYPE } from './plugin/status-view';

export default class VaultPeersPlugin extends Plugin {
  /** For other plugins: `app.plugins.getPlugin('vault-peers')?.api`. Null while the plugin is off. */
  api: VaultPeersApi | null = null;
  private node: PeerNode | null = null;
  private disabledReason: string | null = null;

  override async onload(): Promise<void> {
    const storage = new PluginDataStorage(this, { files: this.app.vault.adapter, path: `${this.manifest.dir ?? ''}/data.json` });
    const settings = await PluginSettings.load(storage);
    const actions = new PluginActions(this.app, () => this.node?.manager ?? null);
    this.addSettingTab(
      new VaultPeersSettingTab(this.app, this, {
        manager: () => this.node?.manager ?? null,
        actions: actions.peer,
        settings: () => settings.current,
        saveSettings: (change) => settings.save(change),
        disabledReason: () => this.disabledReason,
      }),
    );
    const started = await startPeerNode(this.app, this.manifest, settings, storage);
    if (!started.ok) {
      this.disabledReason = started.reason;
      new Notice(started.reason, 10_000);
      return;
    }
    this.node = started.node;
    const manager = started.node.manager;
    this.api = createApi(manager);

    this.registerView(STATUS_VIEW_TYPE, (leaf) => new PeerStatusView(leaf, { manager, actions: actions.peer, addDevice: () => actions.addDevice(), joinDevice: () => actions.joinDevice() }));
    const bar = this.addStatusBarItem();
    this.registerDomEvent(bar, 'click', () => void actions.openStatusView());
    const barSubscription = manager.peerStates$.subscribe((states) => renderStatusBar(bar, states));
    this.register(() => barSubscription.unsubscribe());

    this.addCommand({ id: 'add-device', name: 'Add a device (show an invite)', callback: () => actions.addDevice() });
    this.addCommand({ id: 'join-device', name: 'Join a device (paste an invite)', callback: () => actions.joinDevice() });
    this.addCommand({ id: 'open-peer-status', name: 'Open peer status', callback: () => void actions.openStatusView() });
    this.addCommand({ id: 'connect-all', name: 'Connect all devices', callback: () => void manager.connectAll() });
    this.addCommand({ id: 'disconnect-all', name: 'Disconnect all devices', callback: () => void manager.disconnectAll() });
    // obsidian://vault-peers?invite=VP1... opens "Join a device" with the invite filled in.
    this.registerObsidianProtocolHandler('vault-peers', (params) => actions.joinDevice(typeof params.invite === 'string' ? params.invite : ''));

    const notices = showPeerNotices(manager);
    this.register(() => notices.unsubscribe());
    showLoadProblems(manager.loadProblems);
    this.app.workspace.onLayoutReady(() => void manager.connectAll());
  }

  override onunload(): void {
    void this.stop();
  }

  /** Closes every connection, timer and pipeline, then the endpoint. */
  async stop(): Promise<void> {
    const node = this.node;
    this.node = null;
    this.api = null;
    await node?.close();
  }
}
