import { StorageError } from '../core/errors';
import type { PeerStorage } from '../core/ports';

/** The two Plugin methods that read and write data.json. */
export interface DataFile {
  loadData(): Promise<unknown>;
  saveData(data: unknown): Promise<void>;
}

/**
 * data.json through the plugin's loadData/saveData. Every read-modify-write
 * (the peer manager's and the settings tab's) runs in one queue, so neither
 * can overwrite what the other just wrote.
 */
export class PluginDataStorage implements PeerStorage {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly file: DataFile) {}

  load(): Promise<unknown> {
    return this.file.loadData();
  }

  save(document: Record<string, unknown>): Promise<void> {
    return this.file.saveData(document);
  }

  update(change: (document: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
    const run = this.queue.then(async () => {
      const current = await this.file.loadData();
      if (current !== null && current !== undefined && (typeof current !== 'object' || Array.isArray(current))) {
        throw new StorageError("Vault Peers' data.json does not hold an object; it was not overwritten.");
      }
      await this.file.saveData(change((current as Record<string, unknown> | null) ?? {}));
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
