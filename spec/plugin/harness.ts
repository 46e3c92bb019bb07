/**
 * Vault Peers as Obsidian runs it, for jsdom specs: a vault folder on disk
 * with the plugin installed in its config folder (the iroh binary of this
 * machine linked in), the stand-in app over it, and the plugin object.
 */
import './electron-globals';
import 'fake-indexeddb/auto';
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import VaultPeersPlugin from '../../src/main';
import { nativeBinaryName } from '../../src/plugin/native-loader';
import { App, type AppOptions, type Plugin } from '../support/obsidian-mock';

export const PLUGIN_DIR = '.obsidian/plugins/vault-peers';

/** The plugin with the stand-in's members (its `app` is the stand-in app). */
export type TestPlugin = Omit<VaultPeersPlugin, 'app'> & Plugin;

/** The installed iroh binary for this machine. */
export function nativeBinary(): { name: string; path: string } {
  const name = nativeBinaryName(process.platform, process.arch)!;
  const pkg = name.replace(/^iroh\./, '@number0/iroh-').replace(/\.node$/, '');
  return { name, path: join(dirname(require.resolve(`${pkg}/package.json`)), name) };
}

/** A new vault folder with the plugin's folder in it; `withBinary` links this machine's iroh binary there. */
export function newVaultFolder(withBinary = true): string {
  const vault = mkdtempSync(join(tmpdir(), 'vp-vault-'));
  mkdirSync(join(vault, PLUGIN_DIR), { recursive: true });
  if (withBinary) {
    const binary = nativeBinary();
    symlinkSync(binary.path, join(vault, PLUGIN_DIR, binary.name));
  }
  return vault;
}

/** The plugin as Obsidian constructs it, over `vault` (a folder), with `data` as its data.json. */
export function newPlugin(vault: string, data: unknown, options: AppOptions = {}): TestPlugin {
  const app = new App(vault, options);
  const plugin = new (VaultPeersPlugin as unknown as new (app: App, manifest: object) => TestPlugin)(app, {
    id: 'vault-peers',
    dir: PLUGIN_DIR,
    version: '0.1.0',
  });
  plugin.data = data;
  return plugin;
}
