// Two headless peers on this machine (loopback only, no relays): pair them both
// ways with their tickets, run both, show them connect, then shut down cleanly.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const cli = join(root, 'dist', 'cli', 'vault-peers.js');
const network = ['--relay', 'disabled', '--bind', '127.0.0.1'];
const devices = ['Laptop', 'Desktop'].map((name) => ({ name, dir: mkdtempSync(join(tmpdir(), `vault-peers-demo-${name}-`)) }));

function vaultPeers(device, ...args) {
  const shown = args.map((a) => (a.length > 40 ? `${a.slice(0, 24)}…` : a)).join(' ');
  console.log(`\n$ vault-peers ${shown}   # on ${device.name}`);
  const result = spawnSync(process.execPath, [cli, ...args, '--dir', device.dir, '--device-name', device.name, ...network], {
    encoding: 'utf8',
  });
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  if (result.status !== 0) throw new Error(`vault-peers ${args[0]} failed`);
  return result.stdout;
}

const running = [];
try {
  const [laptop, desktop] = devices;
  const ticketOf = (device) => /vault-peers join (\S+)/.exec(vaultPeers(device, 'invite'))[1];
  const laptopTicket = ticketOf(laptop);
  const desktopTicket = ticketOf(desktop);
  vaultPeers(laptop, 'join', desktopTicket, '--name', 'Desktop');
  vaultPeers(desktop, 'join', laptopTicket, '--name', 'Laptop');

  console.log('\nStarting both with `vault-peers run` ...');
  const connected = new Set();
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the peers did not connect within 20 s')), 20_000);
    for (const device of devices) {
      const child = spawn(process.execPath, [cli, 'run', '--dir', device.dir, '--device-name', device.name, ...network]);
      running.push(child);
      let buffer = '';
      child.stdout.on('data', (chunk) => {
        buffer += chunk;
        const lines = buffer.split('\n');
        buffer = lines.pop();
        for (const line of lines) {
          console.log(`[${device.name.padEnd(7)}] ${line}`);
          if (/ connected$/.test(line)) connected.add(device.name);
          if (connected.size === devices.length) {
            clearTimeout(timer);
            resolve();
          }
        }
      });
      child.stderr.on('data', (chunk) => process.stderr.write(`[${device.name}] ${chunk}`));
    }
  });
  vaultPeers(laptop, 'list');
  vaultPeers(desktop, 'list');
  console.log('\nBoth devices are connected. Stopping them (Ctrl-C does the same) ...');
} finally {
  await Promise.all(
    running.map((child) => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill('SIGTERM');
    })),
  );
  for (const device of devices) rmSync(device.dir, { recursive: true, force: true });
}
