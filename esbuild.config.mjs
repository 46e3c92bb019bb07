// Builds the headless peer (dist/cli) and the Obsidian plugin (dist/plugin, a
// folder to copy into <vault>/.obsidian/plugins/vault-peers/). Native and host
// modules stay external: iroh's .node binary is loaded from disk by path.
import esbuild from 'esbuild';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { installedNativeBinaries } from './scripts/native-binaries.mjs';

const production = process.argv.includes('production');
const quiet = process.argv.includes('--quiet');
const only = process.argv.find((arg) => arg === 'cli' || arg === 'plugin' || arg === 'bench');

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
const iroh = ['@number0/iroh', '@number0/iroh/*'];
/** The headless peer's folder watcher loads its own native binary. */
const watcher = ['@parcel/watcher'];

const cli = {
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/cli/vault-peers.js',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: [...iroh, ...watcher, ...nodeBuiltins],
  sourcemap: production ? false : 'inline',
  logLevel: quiet ? 'warning' : 'info',
};

/** As in obsidian-sample-plugin: one CommonJS main.js, Obsidian and Electron provided by the app. */
const plugin = {
  entryPoints: ['src/main.ts'],
  outfile: 'dist/plugin/main.js',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'es2022',
  external: ['obsidian', 'electron', '@codemirror/*', '@lezer/*', ...iroh, ...nodeBuiltins],
  sourcemap: production ? false : 'inline',
  minify: production,
  treeShaking: true,
  logLevel: quiet ? 'warning' : 'info',
};

function copyPluginFiles() {
  mkdirSync('dist/plugin', { recursive: true });
  for (const file of ['manifest.json', 'styles.css']) copyFileSync(file, join('dist/plugin', file));
  // The binary for the machine that builds, so dist/plugin runs here as it is.
  const suffix = { 'linux-x64': 'linux-x64-gnu', 'linux-arm64': 'linux-arm64-gnu', 'darwin-arm64': 'darwin-arm64', 'win32-x64': 'win32-x64-msvc' }[
    `${process.platform}-${process.arch}`
  ];
  const native = installedNativeBinaries().find((b) => b.file === `iroh.${suffix}.node`);
  if (native && existsSync(native.path)) copyFileSync(native.path, join('dist/plugin', native.file));
  else console.warn(`No iroh binary for ${process.platform}-${process.arch}: dist/plugin will show a notice and stay off here.`);
}

/** Benchmarks and the fault suite, run with node from dist/bench. */
const bench = { ...cli, entryPoints: ['bench/bench.ts', 'bench/faults.ts', 'bench/host.ts', 'bench/stream-peer.ts', 'bench/streams.ts', 'bench/strangers.ts', 'bench/sync/main.ts', 'bench/sync/raw-peer.ts'], outfile: undefined, outdir: 'dist/bench' };

if (only === 'bench') await esbuild.build(bench);
if (!only || only === 'cli') await esbuild.build(cli);
if (!only || only === 'plugin') {
  await esbuild.build(plugin);
  copyPluginFiles();
}
