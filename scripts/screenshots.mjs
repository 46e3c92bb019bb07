// Renders the status view, the invite modal and the settings tab in headless
// Chromium (Debian's package, installed when missing) and saves PNGs in docs/.
// The page loads the real view code, built with the specs' obsidian stand-in.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import esbuild from 'esbuild';

const chromium = '/usr/bin/chromium';
if (!existsSync(chromium)) {
  console.log('Installing Chromium from Debian (apt-get) ...');
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

const out = resolve('dist/screens');
mkdirSync(out, { recursive: true });
mkdirSync('docs', { recursive: true });
await esbuild.build({
  entryPoints: ['scripts/screens/page.ts'],
  outfile: join(out, 'page.js'),
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2022',
  alias: { obsidian: resolve('spec/support/obsidian-mock.ts') },
  logLevel: 'warning',
});
writeFileSync(
  join(out, 'index.html'),
  `<!doctype html><html><head><meta charset="utf-8"><style>${readFileSync('scripts/screens/obsidian-like.css', 'utf8')}\n${readFileSync('styles.css', 'utf8')}</style></head><body><script src="page.js"></script></body></html>`,
);

const screens = [
  ['view', 'status-view.png', '610,520'],
  ['invite', 'invite-modal.png', '470,640'],
  ['settings', 'settings-tab.png', '810,930'],
];
for (const [hash, file, size] of screens) {
  const profile = mkdtempSync(join(tmpdir(), 'vault-peers-chromium-'));
  try {
    execFileSync(chromium, [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--hide-scrollbars',
      `--user-data-dir=${profile}`,
      `--window-size=${size}`,
      '--virtual-time-budget=4000',
      `--screenshot=${resolve('docs', file)}`,
      `file://${join(out, 'index.html')}#${hash}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    console.log(`docs/${file}`);
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
