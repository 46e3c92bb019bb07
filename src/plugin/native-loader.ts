/**
 * Finds the iroh native binary shipped in the plugin's folder. Obsidian cannot
 * resolve packages for a plugin, and downloading binaries at run time is
 * against its policies, so the release zip carries the one for its platform.
 */

/** The file name napi-rs gives the binary for a platform, or null where none is built. */
export function nativeBinaryName(platform: string, arch: string): string | null {
  const names: Record<string, string> = {
    'linux-x64': 'iroh.linux-x64-gnu.node',
    'linux-arm64': 'iroh.linux-arm64-gnu.node',
    'darwin-arm64': 'iroh.darwin-arm64.node',
    'win32-x64': 'iroh.win32-x64-msvc.node',
    'win32-arm64': 'iroh.win32-arm64-msvc.node',
  };
  return names[`${platform}-${arch}`] ?? null;
}

export type NativeLoad<T> = { readonly ok: true; readonly module: T } | { readonly ok: false; readonly reason: string };

/** Loads the binary for this platform from `pluginDir`, or says in words why it cannot. */
export function loadNative<T>(
  pluginDir: string,
  platform: string,
  arch: string,
  exists: (path: string) => boolean,
  load: (path: string) => unknown,
): NativeLoad<T> {
  const name = nativeBinaryName(platform, arch);
  if (!name) {
    return { ok: false, reason: `Vault Peers has no network module for this computer (${platform}-${arch}), so it stays off.` };
  }
  // Linux zips come for glibc and for musl; whichever was installed is the one to load.
  const candidates = platform === 'linux' ? [name, name.replace('-gnu.node', '-musl.node')] : [name];
  const path = candidates.map((file) => `${pluginDir}/${file}`).find(exists) ?? `${pluginDir}/${name}`;
  if (!exists(path)) {
    return {
      ok: false,
      reason: `Vault Peers is missing its network module (${name}). Install the release zip for ${platform}-${arch}, which includes it.`,
    };
  }
  try {
    return { ok: true, module: load(path) as T };
  } catch (error) {
    return { ok: false, reason: `Vault Peers could not load its network module: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` };
  }
}
