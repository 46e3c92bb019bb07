// Two headless peers on this machine (loopback only, no relays), each with a
// vault folder: the laptop shows a one-time invite, the desktop joins with it,
// both run and the laptop's notes appear on the desktop. A note edited on the
// laptop follows live; then both stop, each edits the same note while apart,
// and once both run again the note holds both edits.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const cli = join(root, 'dist', 'cli', 'vault-peers.js');
const network = ['--relay', 'disabled', '--bind', '127.0.0.1'];
const place = mkdtempSync(join(tmpdir(), 'vault-peers-demo-'));
const [laptop, desktop] = ['Laptop', 'Desktop'].map((name) => {
  const device = { name, dir: join(place, `${name.toLowerCase()}-state`), vault: join(place, `${name}Vault`), run: null };
  mkdirSync(device.vault, { recursive: true });
  return device;
});
const running = new Set();

const argsFor = (device, args) => [cli, ...args, '--dir', device.dir, '--device-name', device.name, ...network];
const shown = (args) => args.map((a) => (a.length > 40 ? `${a.slice(0, 24)}…` : a.startsWith(place) ? relative(place, a) : a)).join(' ');
const say = (text) => console.log(`\n# ${text}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function vaultPeers(device, ...args) {
  console.log(`\n$ vault-peers ${shown(args)}   # on ${device.name}`);
  const result = spawnSync(process.execPath, argsFor(device, args), { encoding: 'utf8' });
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  if (result.status !== 0) throw new Error(`vault-peers ${args[0]} failed`);
  return result.stdout;
}

/** Starts a long-running command, echoing its lines (long ones cut); resolves when a line matches `until`. */
function start(device, args, until) {
  console.log(`\n$ vault-peers ${shown(args)} &   # on ${device.name}`);
  const child = spawn(process.execPath, argsFor(device, args));
  running.add(child);
  child.once('exit', () => running.delete(child));
  let buffer = '';
  const matched = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${until}" from ${device.name} within 30 s`)), 30_000);
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      const parts = buffer.split('\n');
      buffer = parts.pop();
      for (const line of parts) {
        console.log(`[${device.name.padEnd(7)}] ${line.length > 110 ? `${line.slice(0, 109)}…` : line}`);
        if (until.test(line)) {
          clearTimeout(timer);
          resolve(line);
        }
      }
    });
    child.stderr.on('data', (chunk) => process.stderr.write(`[${device.name}] ${chunk}`));
  });
  return { child, matched };
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

const notePath = (device) => join(device.vault, 'Groceries.md');
const read = (device) => readFileSync(notePath(device), 'utf8');

/** Waits until `check()` is true (polling the disk, as a person would look), for at most 30 s. */
async function until(what, check) {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(50)) {
    try {
      if (check()) return;
    } catch {
      // not there yet
    }
  }
  throw new Error(`timed out waiting for ${what}`);
}

function showTree(device) {
  const walk = (dir) => readdirSync(dir, { withFileTypes: true }).filter((e) => !e.name.startsWith('.')).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  console.log(`${device.name}Vault/`);
  for (const file of walk(device.vault).sort()) console.log(`  ${relative(device.vault, file)}`);
}

function showNote(device) {
  console.log(`--- Groceries.md on the ${device.name} ---\n${read(device)}---`);
}

try {
  writeFileSync(notePath(laptop), '# Groceries\n\n- bread\n- milk\n- apples\n');
  mkdirSync(join(laptop.vault, 'Recipes'));
  writeFileSync(join(laptop.vault, 'Recipes', 'Pancakes.md'), '# Pancakes\n\nFlour, milk, eggs.\n');
  writeFileSync(join(laptop.vault, 'Recipes', 'pancakes.jpg'), Buffer.alloc(150_000, 7));
  say('The laptop has a vault; the desktop an empty folder.');
  showTree(laptop);

  laptop.run = start(laptop, ['run', '--vault', laptop.vault], /^ticket: /);
  await laptop.run.matched;
  const invite = start(laptop, ['invite'], /vault-peers join VP1/);
  const inviteText = /vault-peers join (VP1\S+)/.exec(await invite.matched)[1];
  vaultPeers(desktop, 'join', inviteText);
  await new Promise((resolve) => invite.child.once('exit', resolve));

  desktop.run = start(desktop, ['run', '--vault', desktop.vault], / Laptop \([0-9a-f]{8}\) in sync: /);
  await desktop.run.matched;
  say("The laptop's vault is now on the desktop:");
  showTree(desktop);

  say('A line added on the laptop appears on the desktop a moment later.');
  writeFileSync(notePath(laptop), `${read(laptop)}- coffee\n`);
  await until('the edit on the desktop', () => read(desktop).includes('- coffee'));
  showNote(desktop);

  say('Both stop. While apart, each edits the same note.');
  await Promise.all([stop(laptop.run.child), stop(desktop.run.child)]);
  writeFileSync(notePath(laptop), read(laptop).replace('- milk', '- oat milk'));
  writeFileSync(notePath(desktop), read(desktop).replace('- apples', '- apples (green ones)'));
  showNote(laptop);
  showNote(desktop);

  say('Both run again (the vault is remembered): the note merges, both edits kept once, no conflict file.');
  laptop.run = start(laptop, ['run'], /^ticket: /);
  await laptop.run.matched;
  desktop.run = start(desktop, ['run'], / Laptop \([0-9a-f]{8}\) in sync: /);
  await desktop.run.matched;
  await until('the merge on both', () => read(laptop) === read(desktop) && read(desktop).includes('oat milk') && read(desktop).includes('green ones'));
  showNote(desktop);
  vaultPeers(desktop, 'status');
  vaultPeers(desktop, 'conflicts');
  console.log('\nStopping both (Ctrl-C does the same) ...');
} finally {
  await Promise.all([...running].map(stop));
  rmSync(place, { recursive: true, force: true });
}
