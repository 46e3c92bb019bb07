/**
 * Vault Peers: the Obsidian plugin. This file only wires: settings and peers
 * from data.json, the vault's sync (engine over the vault and IndexedDB,
 * opened once the layout is ready), this device through the wiring shared
 * with the headless peer (src/app), then the status view, status bar,
 * commands, notices and settings tab. Unloading tears all of it down.
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
import { showConflictNotices } from './plugin/sync-notices';
import { VaultSync } from './plugin/vault-sync';

export default class VaultPeersPlugin extends Plugin {
  /** For other plugins: `app.plugins.getPlugin('vault-peers')?.api`. Null while the plugin is off. */
  api: VaultPeersApi | null = null;
  private node: PeerNode | null = null;
  private sync: VaultSync | null = null;
  private disabledReason: string | null = null;
  private stopping: Promise<void> | null = null;

  override async onload(): Promise<void> {
    const storage = new PluginDataStorage(this, { files: this.app.vault.adapter, path: `${this.manifest.dir ?? ''}/data.json` });
    const settings = await PluginSettings.load(storage);
    const deviceName = (): string => settings.current.deviceName || this.app.vault.getName();
    const sync = new VaultSync({ app: this.app, pluginDir: this.manifest.dir ?? '', settings: () => settings.current, deviceName });
    this.sync = sync;
    const manager = () => this.node?.manager ?? null;
    const actions = new PluginActions(this.app, manager, settings, sync);
    this.addSettingTab(
      new VaultPeersSettingTab(this.app, this, {
        manager,
        actions: actions.peer,
        settings: () => settings.current,
        settings$: settings.current$,
        saveSettings: (change) => settings.save(change),
        configDir: this.app.vault.configDir,
        applySyncSettings: () => void sync.applySettings(manager()).catch(() => undefined),
        disabledReason: () => this.disabledReason,
      }),
    );
    const started = await startPeerNode(this.app, this.manifest, settings, storage, sync);
    if (!started.ok) {
      this.disabledReason = started.reason;
      new Notice(started.reason, 10_000);
      return;
    }
    const node = (this.node = started.node);
    this.api = createApi(node.manager, sync);
    this.registerEditorExtension(sync.notes.extension);

    this.registerView(STATUS_VIEW_TYPE, (leaf) => new PeerStatusView(leaf, actions.statusView(node.manager)));
    const bar = this.addStatusBarItem();
    this.registerDomEvent(bar, 'click', () => void actions.openStatusView());
    const subscriptions = [node.manager.peerStates$.subscribe((states) => renderStatusBar(bar, states)), showPeerNotices(node.manager), showConflictNotices(sync.activity$, (text, ms) => new Notice(text, ms))];
    this.register(() => subscriptions.forEach((s) => s.unsubscribe()));

    this.addCommand({ id: 'add-device', name: 'Add a device (show an invite)', callback: () => actions.addDevice() });
    this.addCommand({ id: 'join-device', name: 'Join a device (paste an invite)', callback: () => actions.joinDevice() });
    this.addCommand({ id: 'open-peer-status', name: 'Open peer status, conflicts and sync activity', callback: () => void actions.openStatusView() });
    this.addCommand({ id: 'connect-all', name: 'Connect all devices', callback: () => void node.manager.connectAll() });
    this.addCommand({ id: 'disconnect-all', name: 'Disconnect all devices', callback: () => void node.manager.disconnectAll() });
    // obsidian://vault-peers?invite=VP1... opens "Join a device" with the invite filled in.
    this.registerObsidianProtocolHandler('vault-peers', (params) => actions.joinDevice(typeof params.invite === 'string' ? params.invite : ''));

    showLoadProblems(node.manager.loadProblems);
    this.app.workspace.onLayoutReady(() => {
      void node.manager.connectAll();
      // The first scan reads the whole vault: not while Obsidian is starting. Connections wait for it.
      sync.start(node.transport.nodeId).catch((error: unknown) => new Notice(sync.problemText(error), 15_000));
    });
  }

  override onunload(): void {
    void this.stop();
  }

  /**
   * Stops the sync (peers are told), then closes every connection, timer and pipeline, and the endpoint.
   * Every call gets the one stop (Obsidian's unload starts it without waiting).
   */
  stop(): Promise<void> {
    const [node, sync] = [this.node, this.sync];
    [this.node, this.sync, this.api] = [null, null, null];
    // The node closes the sync first; without a node (it could not start) the sync closes alone.
    return (this.stopping ??= (async () => {
      await node?.close();
      await sync?.close();
    })());
  }
}
