#!/usr/bin/env node
// Runs the bundled headless peer, building it first on a fresh clone.
const { existsSync } = require('node:fs');
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

const root = join(__dirname, '..');
const bundle = join(root, 'dist', 'cli', 'vault-peers.js');
if (!existsSync(bundle)) {
  execFileSync(process.execPath, [join(root, 'esbuild.config.mjs'), 'cli', '--quiet'], { cwd: root, stdio: 'inherit' });
}
require(bundle)
  .main(process.argv.slice(2))
  .then((code) => process.exit(code), () => process.exit(1));
