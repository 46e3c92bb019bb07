// Two headless peers on this machine (loopback only, no relays): the laptop
// shows a one-time invite, the desktop joins with it, both run and connect,
// then both shut down cleanly.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const cli = join(root, 'dist', 'cli', 'vault-peers.js');
const network = ['--relay', 'disabled', '--bind', '127.0.0.1'];
const [laptop, desktop] = ['Laptop', 'Desktop'].map((name) => ({ name, dir: mkdtempSync(join(tmpdir(), `vault-peers-demo-${name}-`)) }));
const children = [];

const argsFor = (device, args) => [cli, ...args, '--dir', device.dir, '--device-name', device.name, ...network];
const shown = (args) => args.map((a) => (a.length > 40 ? `${a.slice(0, 24)}…` : a)).join(' ');

function vaultPeers(device, ...args) {
  console.log(`\n$ vault-peers ${shown(args)}   # on ${device.name}`);
  const result = spawnSync(process.execPath, argsFor(device, args), { encoding: 'utf8' });
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  if (result.status !== 0) throw new Error(`vault-peers ${args[0]} failed`);
  return result.stdout;
}

/** Starts a long-running command, echoing its lines; resolves when a line matches `until`. */
function start(device, args, until) {
  console.log(`\n$ vault-peers ${shown(args)} &   # on ${device.name}`);
  const child = spawn(process.execPath, argsFor(device, args));
  children.push(child);
  let buffer = '';
  const lines = [];
  const matched = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${until}" from ${device.name} within 20 s`)), 20_000);
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      const parts = buffer.split('\n');
      buffer = parts.pop();
      for (const line of parts) {
        lines.push(line);
        console.log(`[${device.name.padEnd(7)}] ${line}`);
        if (until.test(line)) {
          clearTimeout(timer);
          resolve(line);
        }
      }
    });
    child.stderr.on('data', (chunk) => process.stderr.write(`[${device.name}] ${chunk}`));
  });
  return { child, matched, lines };
}

try {
  await start(laptop, ['run'], / is online on /).matched;
  const invite = start(laptop, ['invite'], /vault-peers join VP1/);
  const inviteText = /vault-peers join (VP1\S+)/.exec(await invite.matched)[1];
  vaultPeers(desktop, 'join', inviteText);
  await new Promise((resolve) => invite.child.once('exit', resolve));

  const desktopRun = start(desktop, ['run'], / Laptop \([0-9a-f]{8}\) connected$/);
  await desktopRun.matched;
  vaultPeers(laptop, 'list');
  vaultPeers(desktop, 'list');
  console.log('\nPaired with a one-time invite and connected. Stopping both (Ctrl-C does the same) ...');
} finally {
  await Promise.all(
    children.map((child) => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill('SIGTERM');
    })),
  );
  for (const device of [laptop, desktop]) rmSync(device.dir, { recursive: true, force: true });
}
