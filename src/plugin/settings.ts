import { BehaviorSubject, type Observable } from 'rxjs';
import { migrateSettings, readSettings, withSettings, type DeviceSettings } from '../app/settings';
import type { PluginDataStorage } from './plugin-storage';

/**
 * The plugin's settings, kept under `settings` in data.json beside the peers
 * (the schema is shared with the headless peer). Every write goes through the
 * storage's one queue, so it never overwrites what the peer manager just saved.
 */
export class PluginSettings {
  private readonly settings: BehaviorSubject<DeviceSettings>;
  /** The settings now and after each change, for views that show one of them. */
  readonly current$: Observable<DeviceSettings>;

  private constructor(
    private readonly storage: PluginDataStorage,
    settings: DeviceSettings,
  ) {
    this.settings = new BehaviorSubject(settings);
    this.current$ = this.settings.asObservable();
  }

  /** Reads data.json, renaming keys of older versions in the file (`bindPort` became `port`). */
  static async load(storage: PluginDataStorage): Promise<PluginSettings> {
    const document: unknown = await storage.load().catch(() => null);
    const settings = new PluginSettings(storage, readSettings(document));
    if (typeof document === 'object' && document !== null && !Array.isArray(document) && migrateSettings(document as Record<string, unknown>)) {
      // Not awaited into a failure: a file that cannot be written now still loads with the values read.
      await storage.update((current) => migrateSettings(current) ?? current).catch(() => undefined);
    }
    return settings;
  }

  get current(): DeviceSettings {
    return this.settings.value;
  }

  async save(change: Partial<DeviceSettings>): Promise<void> {
    this.settings.next({ ...this.settings.value, ...change });
    await this.storage.update((document) => withSettings(document, change));
  }

  /** "Sync with this device" on or off. */
  setSync(nodeId: string, on: boolean): Promise<void> {
    const others = this.current.syncOff.filter((id) => id !== nodeId);
    return this.save({ syncOff: on ? others : [...others, nodeId] });
  }
}
