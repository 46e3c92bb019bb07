// The README's pictures, from a real run: scripts/screens/real-run.screens.ts
// syncs the plugin (under the specs' Obsidian stand-in) with a headless peer
// over real iroh on loopback and saves the views' HTML at the moments worth
// showing; each is rendered here in headless Chromium (Debian's package,
// installed when missing) with the stand-in's theme and the plugin's
// styles.css, and saved as a PNG in docs/.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const chromium = '/usr/bin/chromium';
if (!existsSync(chromium)) {
  console.log('Installing Chromium from Debian (apt-get) ...');
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

const out = resolve('dist/screens');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
mkdirSync('docs', { recursive: true });

console.log('Syncing the plugin with a headless peer on loopback ...');
execFileSync(
  process.execPath,
  [resolve('node_modules/jest/bin/jest.js'), '--rootDir', '.', '--roots', '<rootDir>/scripts/screens', '--testMatch', '**/*.screens.ts', '--coverage=false'],
  { stdio: 'inherit', env: { ...process.env, VAULT_PEERS_SCREENS: out } },
);

const style = `${readFileSync('scripts/screens/obsidian-like.css', 'utf8')}\n${readFileSync('styles.css', 'utf8')}`;
const screens = [
  ['status-view', '610,500'],
  ['conflicts-list', '610,490'],
  ['settings-tab', '810,980'],
  ['invite-modal', '470,600'],
];
for (const [name, size] of screens) {
  const page = join(out, `${name}.page.html`);
  writeFileSync(page, `<!doctype html><html><head><meta charset="utf-8"><style>${style}</style></head><body class="screen-${name}">${readFileSync(join(out, `${name}.html`), 'utf8')}</body></html>`);
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
      `--screenshot=${resolve('docs', `${name}.png`)}`,
      `file://${page}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    console.log(`docs/${name}.png`);
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
