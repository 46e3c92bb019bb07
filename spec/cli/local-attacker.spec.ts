/**
 * Another user of the same computer against the headless peer (issue 10,
 * points 1-3): the control socket cannot be taken over or reached, whatever
 * the umask, and a state directory or key that is not this user's alone is
 * refused with the reason, as ssh refuses its keys. Real processes, real
 * sockets; the attacker runs as a second local user created for the spec.
 */
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlPath } from '../../src/cli/control-socket';
import { cli, eventually, headlessPeers, legacySocket, secondUser, type LocalUser } from '../support/headless';

jest.setTimeout(90_000);

const peer = headlessPeers();
const user = secondUser();
const attacker: LocalUser | null = 'skip' in user ? null : user;
const withAttacker = attacker ? it : it.skip;
const as = attacker ? 'another local user' : `another local user (skipped: ${(user as { skip: string }).skip})`;

afterAll(() => attacker?.remove());

/** Every place a socket of `dir` could be, old or new: the attacker tries them all. */
function socketCandidates(dir: string): string[] {
  return [...new Set([controlPath(dir), join(dir, 'control.sock'), legacySocket(dir)])];
}

/** Listens on each path it can, answers any request with a forged reply, and reports what it heard. */
const LISTEN = `
const net = require('node:net');
const fs = require('node:fs');
const forged = { nodeId: 'f'.repeat(64), name: 'Victim' };
for (const path of process.argv.slice(1)) {
  const server = net.createServer((socket) => {
    socket.on('data', (chunk) => {
      console.log('REQUEST ' + path + ' ' + JSON.stringify(String(chunk)));
      const output = { self: { ...forged, online: true, connections: 0 }, peers: [], id: 'x', text: 'VP1FORGED', link: '', expiresAt: 0 };
      socket.end(JSON.stringify({ ok: true, output }) + '\\n' + JSON.stringify({ type: 'result', ok: true, output }) + '\\n');
    });
  });
  server.on('error', (e) => console.log('FAILED ' + path + ' ' + e.code));
  server.listen(path, () => {
    fs.chmodSync(path, 0o777);
    console.log('LISTENING ' + path);
  });
}
setTimeout(() => console.log('READY'), 300);
`;

/** Connects to each path and asks for an invite, as the victim's own commands would. */
const ASK = `
const net = require('node:net');
const paths = process.argv.slice(1);
let left = paths.length;
for (const path of paths) {
  const socket = net.createConnection(path);
  let reply = '';
  const done = (what) => { console.log(what + ' ' + path + ' ' + JSON.stringify(reply)); socket.destroy(); if (--left === 0) process.exit(0); };
  socket.on('connect', () => socket.write(JSON.stringify({ command: 'invite', args: [], options: {} }) + '\\n'));
  socket.on('data', (chunk) => { reply += chunk; if (reply.includes('VP1')) done('GOT'); });
  socket.on('error', (e) => done('ERROR ' + e.code));
  socket.on('close', () => done('CLOSED'));
  setTimeout(() => done('TIMEOUT'), 5000);
}
`;

/** Makes a directory of its own with a device key in it, for someone else to use. */
const PLANT = `
const fs = require('node:fs');
const dir = process.argv[1];
fs.mkdirSync(dir, { mode: 0o755 });
fs.chmodSync(dir, 0o755);
fs.writeFileSync(dir + '/device.key', 'ab'.repeat(32) + '\\n', { mode: 0o644 });
console.log('PLANTED');
`;

describe(`the control socket against ${as}`, () => {
  withAttacker("a socket planted where the victim's commands look is never asked, and the real one cannot be planted", async () => {
    const victim = peer('Victim');
    victim.ticket(); // the state directory exists, as after any first use
    const listener = attacker!.spawnNode(LISTEN, socketCandidates(victim.dir));
    let heard = '';
    listener.stdout!.on('data', (chunk: Buffer) => (heard += chunk.toString()));
    try {
      await eventually(async () => heard.includes('READY'), 10_000, 'the attacker to listen');
      // Inside the 0700 state directory, another user cannot create anything.
      expect(heard).toContain(`FAILED ${join(victim.dir, 'control.sock')} EACCES`);

      const listed = cli(victim.dir, ['list', '--json']);
      expect(listed.code).toBe(0);
      expect(JSON.parse(listed.stdout).self.nodeId).not.toBe('f'.repeat(64));
      await victim.start();
      const shown = await victim.invite();
      expect(shown.text).not.toBe('VP1FORGED');
      expect(heard).not.toMatch(/REQUEST/);
    } finally {
      listener.kill('SIGKILL');
    }
  });

  withAttacker('under umask 000 the socket, the state directory and its files stay private: the other user gets no invite', async () => {
    const victim = peer('Victim');
    await victim.start('127.0.0.1', { umask: '000' });
    const asked = attacker!.node(ASK, socketCandidates(victim.dir).filter((p) => existsSync(p)));
    expect(asked.stdout).not.toMatch(/^GOT/m);
    expect(asked.stdout).toMatch(/^ERROR EACCES /m);

    const mode = (path: string): number => statSync(path).mode & 0o777;
    expect(mode(victim.dir)).toBe(0o700);
    expect(mode(controlPath(victim.dir)) & 0o077).toBe(0);
    expect(mode(join(victim.dir, 'device.key'))).toBe(0o600);
    expect(mode(join(victim.dir, 'peers.json'))).toBe(0o600);
    expect((await victim.list()).self.name).toBe('Victim');
  });

  withAttacker("another user's socket at the socket's place is refused with a clear error, and told nothing", async () => {
    const victim = peer('Victim');
    victim.ticket();
    const planted: string[] = [];
    const server: Server = createServer((socket) => socket.on('data', (chunk) => planted.push(String(chunk))));
    const path = controlPath(victim.dir);
    await new Promise<void>((done) => server.listen(path, done));
    chownSync(path, attacker!.uid, attacker!.gid);
    try {
      const result = cli(victim.dir, ['list']);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(
        `vault-peers: ${path} belongs to another user (uid ${attacker!.uid}); not talking to it. If you did not put it there, someone else did: remove it.`,
      );
      expect(planted).toEqual([]);
    } finally {
      await new Promise((done) => server.close(done));
    }
  });

  withAttacker('a runtime directory another user made first (for a state path too long for a socket) is refused', () => {
    const xdg = process.env.XDG_RUNTIME_DIR;
    delete process.env.XDG_RUNTIME_DIR;
    const runtime = join(tmpdir(), 'vault-peers-0');
    const base = mkdtempSync(join(tmpdir(), 'vp-long-'));
    const longDir = join(base, 'a'.repeat(60), 'b'.repeat(60));
    rmSync(runtime, { recursive: true, force: true });
    try {
      // Nobody there first: the socket goes to a private directory of this user's.
      expect(cli(longDir, ['list'], { XDG_RUNTIME_DIR: '' }).code).toBe(0);
      expect(controlPath(longDir).startsWith(`${runtime}/`)).toBe(true);
      expect(statSync(runtime).mode & 0o777).toBe(0o700);
      rmSync(runtime, { recursive: true, force: true });

      attacker!.node(`require('node:fs').mkdirSync(${JSON.stringify(runtime)}, { mode: 0o777 }); require('node:fs').chmodSync(${JSON.stringify(runtime)}, 0o777)`);
      const result = cli(longDir, ['list'], { XDG_RUNTIME_DIR: '' });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^vault-peers: ${runtime} belongs to another user \\(uid ${attacker!.uid}\\)`));
    } finally {
      if (xdg !== undefined) process.env.XDG_RUNTIME_DIR = xdg;
      rmSync(runtime, { recursive: true, force: true });
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('a file in the way of the socket is refused with a clear error', () => {
    const victim = peer('Victim');
    victim.ticket();
    writeFileSync(controlPath(victim.dir), 'not a socket', { mode: 0o600 });
    const result = cli(victim.dir, ['list']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`vault-peers: ${controlPath(victim.dir)} is not a socket. Move it away; Vault Peers creates it when it runs.`);
  });
});

describe(`the state directory against ${as}`, () => {
  withAttacker("a directory prepared by another user, with a key planted in it, is refused and its key never used", () => {
    const planted = join(mkdtempSync(join(tmpdir(), 'vp-planted-')), 'state');
    chmodSync(join(planted, '..'), 0o777);
    expect(attacker!.node(PLANT, [planted]).stdout).toContain('PLANTED');
    const result = cli(planted, ['list', '--json']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim()).toBe(
      `vault-peers: ${planted} belongs to another user (uid ${attacker!.uid}). It would hold this device's secret key, so only a directory you own is used: pass --dir with one of yours.`,
    );
    expect(readFileSync(join(planted, 'device.key'), 'utf8')).toBe(`${'ab'.repeat(32)}\n`);
    rmSync(join(planted, '..'), { recursive: true, force: true });
  });

  withAttacker("a key of another user's in this user's directory is refused", () => {
    const victim = peer('Victim');
    victim.ticket();
    chownSync(join(victim.dir, 'device.key'), attacker!.uid, attacker!.gid);
    const result = cli(victim.dir, ['list']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^vault-peers: .*device\.key belongs to another user \(uid \d+\), so it is not used\./);
  });

  it.each([
    ['the directory, writable by others', '', 0o777, /can be changed by other users \(mode 0777\)\. Run `chmod 700 /],
    ['the key, readable by others', 'device.key', 0o644, /is this device's secret key, and other users can access it \(mode 0644\)\. Run `chmod 600 /],
    ['the peers file, writable by others', 'peers.json', 0o666, /peers\.json can be changed by other users \(mode 0666\)\. Run `chmod 600 /],
  ])('%s is refused with what to run, as ssh does', (_what, file, mode, message) => {
    const victim = peer('Victim');
    victim.ticket();
    const before = readFileSync(join(victim.dir, 'peers.json'));
    chmodSync(join(victim.dir, file), mode);
    const result = cli(victim.dir, ['list']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
    expect(readFileSync(join(victim.dir, 'peers.json'))).toEqual(before);
  });

  it('a directory it creates is 0700 whatever the umask', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'vp-umask-')), 'state');
    const result = require('node:child_process').spawnSync('/bin/sh', ['-c', `umask 000; exec "$0" "$@"`, process.execPath, require('../support/headless').CLI, 'list', '--dir', dir], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'device.key')).mode & 0o777).toBe(0o600);
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });
});
