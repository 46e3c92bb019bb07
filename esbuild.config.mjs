// Bundles the headless peer (dist/cli) and, later, the plugin. Native and host
// modules stay external: @number0/iroh ships a .node binary loaded from disk.
import esbuild from 'esbuild';
import { builtinModules } from 'node:module';

const production = process.argv.includes('production');
const quiet = process.argv.includes('--quiet');

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

const cli = {
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/cli/vault-peers.js',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['@number0/iroh', '@number0/iroh/*', ...nodeBuiltins],
  sourcemap: production ? false : 'inline',
  logLevel: quiet ? 'warning' : 'info',
};

await esbuild.build(cli);
