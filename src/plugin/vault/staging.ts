import type { DataAdapter } from 'obsidian';
import { VaultPeersError } from '../../core/errors';
import type { ByteRanges } from './byte-ranges';
import { hostFailure } from './vault-paths';

/**
 * Where attachments arriving from another device are assembled: files in
 * the plugin's own folder (`<config folder>/plugins/vault-peers/staging`),
 * which is hidden, so never synced and never shown in the vault. Staged
 * bytes stay there across a restart: that is how a transfer resumes.
 */
export class Staging {
  constructor(
    private readonly adapter: DataAdapter,
    /** Vault-relative, from the plugin's manifest (`manifest.dir`). */
    private readonly folder: string,
    private readonly ranges: ByteRanges,
    private readonly fullPath: (path: string) => string,
  ) {}

  pathOf(key: string): string {
    // The engine's keys are content hashes; anything else must not become a path.
    if (!/^[0-9A-Za-z_-]{1,128}$/u.test(key)) throw new VaultPeersError(`Vault Peers refused the staging key "${key.slice(0, 40)}".`);
    return `${this.folder}/${key}`;
  }

  async length(key: string): Promise<number> {
    const stat = await this.adapter.stat(this.pathOf(key));
    return stat?.type === 'file' ? stat.size : 0;
  }

  async write(key: string, offset: number, bytes: Uint8Array): Promise<void> {
    const path = this.pathOf(key);
    const length = await this.length(key);
    if (offset > length) throw new RangeError(`Staged ${key} holds ${length} bytes; cannot write at ${offset}.`);
    try {
      if (!(await this.adapter.exists(this.folder))) await this.adapter.mkdir(this.folder);
      await this.ranges.writeAt(this.fullPath(path), offset, bytes);
    } catch (error) {
      throw hostFailure('store part of', path, error);
    }
  }

  async read(key: string, offset: number, length: number): Promise<Uint8Array> {
    return (await this.ranges.read(this.fullPath(this.pathOf(key)), offset, length)) ?? new Uint8Array(0);
  }

  /** The whole staged file (for the vault API, which writes files whole), or null when nothing is staged. */
  async whole(key: string): Promise<ArrayBuffer | null> {
    const path = this.pathOf(key);
    if ((await this.adapter.stat(path))?.type !== 'file') return null;
    return this.adapter.readBinary(path);
  }

  async discard(key: string): Promise<void> {
    const path = this.pathOf(key);
    if (await this.adapter.exists(path)) await this.adapter.remove(path);
  }

  async keys(): Promise<string[]> {
    if (!(await this.adapter.exists(this.folder))) return [];
    const listed = await this.adapter.list(this.folder);
    return listed.files.map((path) => path.slice(path.lastIndexOf('/') + 1));
  }
}
