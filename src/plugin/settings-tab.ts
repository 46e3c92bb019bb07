import { PluginSettingTab, Setting, type App, type Plugin } from 'obsidian';
import type { Observable, Subscription } from 'rxjs';
import { combineLatest, distinctUntilChanged, map } from 'rxjs';
import { shownName } from '../app/display';
import { cleanDeviceName, validPort, type DeviceSettings } from '../app/settings';
import type { PeerManager } from '../core/peer-manager';
import { shortId } from './format';
import { PeerRows, type PeerActions } from './peer-row';
import { renderSyncSettings } from './settings-sync';

export interface SettingsTabServices {
  readonly manager: () => PeerManager | null;
  readonly actions: PeerActions;
  settings(): DeviceSettings;
  /** The settings now and after each change (the device rows show "Sync" from them). */
  readonly settings$: Observable<DeviceSettings>;
  saveSettings(change: Partial<DeviceSettings>): Promise<void>;
  /** The vault's config folder, named in the statement that it is not synced. */
  readonly configDir: string;
  /** Called when the tab closes: what to sync may have changed. */
  applySyncSettings(): void;
  /** Why the plugin is not running, if it is not. */
  disabledReason(): string | null;
}

export class VaultPeersSettingTab extends PluginSettingTab {
  private subscription: Subscription | null = null;

  constructor(
    app: App,
    plugin: Plugin,
    private readonly services: SettingsTabServices,
  ) {
    super(app, plugin);
  }

  override display(): void {
    const { containerEl } = this;
    this.subscription?.unsubscribe();
    containerEl.empty();
    const settings = this.services.settings();
    const reason = this.services.disabledReason();
    if (reason) containerEl.createEl('p', { cls: 'vault-peers-error', text: reason });

    new Setting(containerEl).setName('This device').setHeading();
    new Setting(containerEl)
      .setName('Device name')
      .setDesc('Shown on the devices you pair with. Empty uses the vault name.')
      .addText((text) =>
        text.setValue(settings.deviceName).onChange((value) => {
          void this.services.saveSettings({ deviceName: cleanDeviceName(value) });
        }),
      );

    new Setting(containerEl).setName('Network').setHeading();
    new Setting(containerEl)
      .setName('Relays')
      .setDesc("Default uses n0's relays to reach your devices across networks. Disabled uses direct addresses only (same network). Applies after restarting Obsidian.")
      .addDropdown((dropdown) =>
        dropdown
          .addOptions({ default: 'Default', disabled: 'Disabled' })
          .setValue(settings.relayMode)
          .onChange((value) => void this.services.saveSettings({ relayMode: value === 'disabled' ? 'disabled' : 'default' })),
      );
    const port = new Setting(containerEl)
      .setName('Port')
      .setDesc('0 picks a free port at each start. A fixed port helps firewalls; if it is taken another one is used. Applies after restarting Obsidian.');
    port.addText((text) =>
      text.setValue(String(settings.port ?? 0)).onChange((value) => {
        const number = Number(value.trim());
        const valid = value.trim() !== '' && validPort(number);
        port.setDesc(valid ? '0 picks a free port at each start. Applies after restarting Obsidian.' : 'Enter a number from 0 to 65535.');
        if (valid) void this.services.saveSettings({ port: number });
      }),
    );

    renderSyncSettings(containerEl, settings, this.services);

    new Setting(containerEl).setName('Unknown devices').setHeading();
    const manager = this.services.manager();
    new Setting(containerEl)
      .setName('Devices without an invite')
      .setDesc('Refuse them, or list them here for you to accept, ignore or block.')
      .addDropdown((dropdown) =>
        dropdown
          .addOptions({ reject: 'Refuse', ask: 'Ask me' })
          .setValue(settings.unknownDevices)
          .onChange((value) => {
            const policy = value === 'ask' ? 'ask' : 'reject';
            manager?.pairing.setUnknownDevicePolicy(policy);
            void this.services.saveSettings({ unknownDevices: policy });
          }),
      );
    const requests = containerEl.createDiv({ cls: 'vault-peers-requests' });
    const blocked = containerEl.createDiv({ cls: 'vault-peers-blocked' });

    new Setting(containerEl).setName('Paired devices').setHeading();
    const list = containerEl.createDiv({ cls: 'vault-peers-list' });
    if (!manager) return;
    const rows = new PeerRows(list, this.services.actions, () => Date.now());
    const syncOff$ = this.services.settings$.pipe(
      map((s) => s.syncOff.join()),
      distinctUntilChanged(),
    );
    let shownSyncOff: string | null = null;
    this.subscription = combineLatest([manager.peerStates$, manager.pairing.pendingRequests$, manager.pairing.blockedDevices$, syncOff$]).subscribe(
      ([states, pending, blockedDevices, syncOff]) => {
        rows.update(states);
        if (shownSyncOff !== null && shownSyncOff !== syncOff) rows.redrawAll();
        shownSyncOff = syncOff;
        if (states.length === 0) list.setAttr('data-empty', 'No devices are paired yet.');
        requests.empty();
        for (const request of pending) {
          new Setting(requests)
            .setName(`${shownName(request.name, request.nodeId)} (${shortId(request.nodeId)}) asks to pair`)
            .setDesc(`Since ${new Date(request.requestedAt).toLocaleString()}`)
            .addButton((b) => b.setButtonText('Accept').setCta().onClick(() => void manager.pairing.acceptRequest(request.nodeId)))
            .addButton((b) => b.setButtonText('Ignore').onClick(() => void manager.pairing.ignoreRequest(request.nodeId)))
            .addButton((b) => b.setButtonText('Block').onClick(() => void manager.pairing.blockDevice(request.nodeId)));
        }
        blocked.empty();
        for (const device of blockedDevices) {
          new Setting(blocked)
            .setName(`Blocked: ${shownName(device.name, device.nodeId)}`)
            .setDesc(`${device.refusals} request${device.refusals === 1 ? '' : 's'} refused since ${new Date(device.blockedAt).toLocaleDateString()}`)
            .addButton((b) => b.setButtonText('Unblock').onClick(() => void manager.pairing.unblockDevice(device.nodeId)));
        }
      },
    );
  }

  override hide(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
    this.services.applySyncSettings();
  }
}
