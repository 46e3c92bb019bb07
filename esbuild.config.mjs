// Bundles the headless peer (and, later, the plugin). Native and host modules stay external:
// @number0/iroh ships a .node binary that must be loaded from disk.
import esbuild from 'esbuild';
import { builtinModules } from 'node:module';

const production = process.argv.includes('production');

export const cliOptions = {
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/cli/vault-peers.js',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['@number0/iroh', ...builtinModules, ...builtinModules.map((m) => `node:${m}`)],
  sourcemap: production ? false : 'inline',
  logLevel: 'info',
};

if (import.meta.url === `file://${process.argv[1]}`) {
  await esbuild.build(cliOptions);
}
