// The multi-process specs run the bundled headless peer and bench helpers: build them once per test run.
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

module.exports = () => {
  const root = join(__dirname, '..');
  execFileSync(process.execPath, [join(root, 'esbuild.config.mjs'), 'cli', '--quiet'], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [join(root, 'esbuild.config.mjs'), 'bench', '--quiet'], { cwd: root, stdio: 'inherit' });
};
