// One zip per platform whose iroh binary is installed here: main.js,
// manifest.json, styles.css and that binary, in a vault-peers/ folder to drop
// into <vault>/.obsidian/plugins/. Run after `npm run build`.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { installedNativeBinaries } from './native-binaries.mjs';

const { version, id } = JSON.parse(readFileSync('manifest.json', 'utf8'));
const common = Object.fromEntries(['main.js', 'manifest.json', 'styles.css'].map((f) => [`${id}/${f}`, readFileSync(join('dist/plugin', f))]));
mkdirSync('dist/release', { recursive: true });
const binaries = installedNativeBinaries();
if (binaries.length === 0) throw new Error('No iroh binaries are installed: nothing to release.');
for (const { file, path } of binaries) {
  const platform = file.replace(/^iroh\./, '').replace(/\.node$/, '');
  const zip = zipSync({ ...common, [`${id}/${file}`]: readFileSync(path) }, { level: 9 });
  const out = join('dist/release', `${id}-${version}-${platform}.zip`);
  writeFileSync(out, zip);
  console.log(`${out}  ${(zip.length / 1e6).toFixed(1)} MB`);
}
console.log('Other platforms: install @number0/iroh-<platform> where it is published and run this again.');
