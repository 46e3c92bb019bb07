import { Setting } from 'obsidian';
import { cleanExcludes, MAX_EXCLUDES, type DeviceSettings } from '../app/settings';

const MB = 1024 * 1024;

export interface SyncSettingsServices {
  saveSettings(change: Partial<DeviceSettings>): Promise<void>;
  readonly configDir: string;
}

/**
 * The "Sync" section of the settings: what this device syncs (the engine's
 * filter) and the plain statement that the config folder is not synced.
 * Changes apply when the settings close (the engine reopens and paired
 * devices compare everything once more), not on each keystroke.
 */
export function renderSyncSettings(containerEl: HTMLElement, settings: DeviceSettings, services: SyncSettingsServices): void {
  new Setting(containerEl).setName('Sync').setHeading();
  containerEl.createEl('p', {
    cls: 'setting-item-description vault-peers-config-note',
    text:
      `Your notes and attachments are synced with the devices you pair. The config folder (${services.configDir}) is not: ` +
      'each device keeps its own settings, plugins, themes, hotkeys and workspace. Hidden files and folders (a name starting with a dot) are not synced either.',
  });
  new Setting(containerEl)
    .setName('Sync attachments')
    .setDesc('Images, canvases, documents and every other file that is not a note. Off: only notes (.md) are synced, both ways.')
    .addToggle((toggle) => toggle.setValue(settings.attachments).onChange((on) => void services.saveSettings({ attachments: on })));
  new Setting(containerEl)
    .setName('Leave out')
    .setDesc(`One pattern per line (up to ${MAX_EXCLUDES}), matched against paths in the vault: * is any part of a name, ** any folders. Private/** leaves out a folder, *.mp4 every video. What is left out stays on this device.`)
    .addTextArea((area) =>
      area
        .setPlaceholder('Private/**\n*.mp4')
        .setValue(settings.exclude.join('\n'))
        .onChange((value) => void services.saveSettings({ exclude: cleanExcludes(value.split('\n')) })),
    );
  const size = new Setting(containerEl).setName('Largest file, in megabytes').setDesc('Larger files are not synced. 0: no limit.');
  size.addText((text) =>
    text.setValue(String(Math.round((settings.maxFileBytes / MB) * 100) / 100)).onChange((value) => {
      const megabytes = Number(value.trim());
      const valid = value.trim() !== '' && Number.isFinite(megabytes) && megabytes >= 0;
      size.setDesc(valid ? 'Larger files are not synced. 0: no limit.' : 'Enter a number of megabytes, 0 for no limit.');
      if (valid) void services.saveSettings({ maxFileBytes: Math.round(megabytes * MB) });
    }),
  );
  containerEl.createEl('p', {
    cls: 'setting-item-description',
    text: 'Changes to what is synced apply when you close the settings: paired devices then compare everything once more. Turn syncing with one device on or off in its row below.',
  });
}
