import { build } from 'esbuild';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

jest.setTimeout(60_000);

const root = join(__dirname, '..', '..');

/**
 * The plugin's main.js as `npm run build` makes it (esbuild.config.mjs: the
 * same entry and externals), bundled in memory, with the list of what went
 * into it.
 */
async function pluginBundle(): Promise<{ inputs: string[]; text: string }> {
  const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['src/main.ts'],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'es2022',
    external: ['obsidian', 'electron', '@codemirror/*', '@lezer/*', '@number0/iroh', '@number0/iroh/*', ...nodeBuiltins],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return { inputs: Object.keys(result.metafile.inputs), text: result.outputFiles[0]!.text };
}

describe('the plugin bundle', () => {
  it("holds the sync engine and the Obsidian adapter, but not the headless peer's folder adapter, its watcher or anything else of src/cli", async () => {
    const { inputs, text } = await pluginBundle();
    expect(inputs).toContain('src/sync/engine.ts');
    expect(inputs).toContain('src/plugin/vault/vault-files.ts');
    expect(inputs.filter((input) => input.startsWith('src/cli/'))).toEqual([]);
    expect(inputs.filter((input) => input.includes('@parcel/watcher'))).toEqual([]);
    // Nor loads the watcher at run time (a require left external would fail inside Obsidian).
    expect(text).not.toContain('@parcel/watcher');
    // Obsidian lends its CodeMirror: a second copy in the bundle would break every editor.
    expect(inputs.filter((input) => input.includes('@codemirror/'))).toEqual([]);
  });
});
