// One zip per platform: main.js, manifest.json, styles.css and that platform's
// iroh binary, in a vault-peers/ folder to drop into <vault>/.obsidian/plugins/.
// Binaries not installed here (npm installs only this machine's) are fetched
// from the npm registry with `npm pack`; platforms whose package is not
// published are skipped and named. Run after `npm run build`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { installedNativeBinaries } from './native-binaries.mjs';

const require = createRequire(import.meta.url);
const { version, id } = JSON.parse(readFileSync('manifest.json', 'utf8'));
const common = Object.fromEntries(['main.js', 'manifest.json', 'styles.css'].map((f) => [`${id}/${f}`, readFileSync(join('dist/plugin', f))]));
mkdirSync('dist/release', { recursive: true });

const binaries = new Map(installedNativeBinaries().map((b) => [b.file, readFileSync(b.path)]));
const iroh = require('@number0/iroh/package.json');
const work = mkdtempSync(join(tmpdir(), 'vault-peers-release-'));
const skipped = [];
try {
  for (const [name, wanted] of Object.entries(iroh.optionalDependencies ?? {})) {
    const file = `iroh.${name.replace('@number0/iroh-', '')}.node`;
    if (binaries.has(file)) continue;
    try {
      const tarball = execFileSync('npm', ['pack', `${name}@${wanted}`, '--silent', '--pack-destination', work], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').pop();
      execFileSync('tar', ['-xzf', join(work, tarball), '-C', work]);
      binaries.set(file, readFileSync(join(work, 'package', file)));
      rmSync(join(work, 'package'), { recursive: true, force: true });
    } catch {
      skipped.push(name.replace('@number0/iroh-', ''));
    }
  }
  for (const [file, bytes] of binaries) {
    const platform = file.replace(/^iroh\./, '').replace(/\.node$/, '');
    const zip = zipSync({ ...common, [`${id}/${file}`]: bytes }, { level: 9 });
    const out = join('dist/release', `${id}-${version}-${platform}.zip`);
    writeFileSync(out, zip);
    console.log(`${out}  ${(zip.length / 1e6).toFixed(1)} MB`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (skipped.length) console.log(`No iroh binary published for: ${skipped.join(', ')}. Those platforms get no zip.`);
