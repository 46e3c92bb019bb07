/**
 * One writer per state directory (issue 10, point 11): commands reaching the
 * directory by other paths go through the process that holds it; parallel
 * commands without `run` all land; two `run`s cannot both start; parallel
 * first starts agree on one key; a killed holder leaves nothing stuck; the
 * policy is saved through the one queue. Real processes throughout.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSecretKey, nodeIdOfSecretKey, ticketForAddress } from '../../src/transport/iroh-transport';
import { cli, cliAsync, cliProcess, eventually, headlessPeers, type HeadlessPeer } from '../support/headless';

jest.setTimeout(120_000);

const peer = headlessPeers();
const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A ticket of a device that is nowhere online: adding it only writes the state. */
function offlineTicket(): string {
  return ticketForAddress({ nodeId: nodeIdOfSecretKey(generateSecretKey()), addresses: ['127.0.0.1:9'], relay: null });
}

function stored(device: HeadlessPeer): { peers: { name: string }[]; settings?: { unknownDevices?: string } } {
  return JSON.parse(device.stateFile());
}

const names = (list: { name: string }[]): string[] => list.map((p) => p.name).sort();

describe('one writer per state directory', () => {
  it('with run up, commands through a symlink or another temporary folder go to it: a removed peer stays removed, a new one stays', async () => {
    const laptop = peer('Laptop');
    laptop.join(offlineTicket(), 'Desktop');
    laptop.join(offlineTicket(), 'Phone');
    await laptop.start();
    const link = join(mkdtempSync(join(tmpdir(), 'vp-link-')), 'state');
    scratch.push(join(link, '..'));
    symlinkSync(laptop.dir, link);

    expect(cli(link, ['remove', 'Desktop']).code).toBe(0);
    const otherTmp = mkdtempSync(join(tmpdir(), 'vp-othertmp-'));
    scratch.push(otherTmp);
    expect(cli(laptop.dir, ['join', offlineTicket(), '--name', 'Tablet'], { TMPDIR: otherTmp }).code).toBe(0);
    expect(cli(`${laptop.dir}/.`, ['rename', 'Phone', 'Work phone']).code).toBe(0);

    expect(names((await laptop.list()).peers)).toEqual(['Tablet', 'Work phone']);
    expect(names(stored(laptop).peers)).toEqual(['Tablet', 'Work phone']);
    await laptop.stop();
    expect(names(JSON.parse(cli(laptop.dir, ['list', '--json']).stdout).peers)).toEqual(['Tablet', 'Work phone']);
  });

  it('eight parallel joins without run, on a fresh directory: each says what it did, all eight are stored, under one key', async () => {
    const laptop = peer('Laptop');
    const tickets = Array.from({ length: 8 }, () => offlineTicket());
    const results = await Promise.all(tickets.map((ticket, i) => cliAsync(laptop.dir, ['join', ticket, '--name', `Device ${i + 1}`])));
    for (const [i, result] of results.entries()) {
      expect({ code: result.code, stdout: result.stdout.split('\n')[0] }).toEqual({ code: 0, stdout: expect.stringMatching(new RegExp(`^Added Device ${i + 1} \\(`)) });
    }
    expect(names(stored(laptop).peers)).toEqual(Array.from({ length: 8 }, (_, i) => `Device ${i + 1}`).sort());
    expect(readdirSync(laptop.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('parallel first starts agree on one device key', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'vp-first-')), 'state');
    scratch.push(join(dir, '..'));
    const results = await Promise.all(Array.from({ length: 6 }, () => cliAsync(dir, ['list', '--json'])));
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0, 0, 0]);
    const ids = new Set(results.map((r) => (JSON.parse(r.stdout) as { self: { nodeId: string } }).self.nodeId));
    expect(ids.size).toBe(1);
  });

  it('two runs started at once: one runs, the other says so and exits 1', async () => {
    const laptop = peer('Laptop');
    laptop.ticket();
    const runs = [0, 1].map(() => cliProcess(laptop.dir, ['run', '--bind', '127.0.0.1']));
    try {
      const ended = await Promise.race(runs.map((child, i) => new Promise<number>((resolve) => child.once('exit', () => resolve(i)))));
      const other = runs[1 - ended]!;
      expect(runs[ended]!.exitCode).toBe(1);
      expect(runs[ended]!.output()).toMatch(new RegExp(`^vault-peers: A peer is already running for ${laptop.dir}: \`vault-peers run\` \\(pid ${other.pid}`, 'm'));
      await eventually(async () => / is online on /.test(other.output()), 15_000, 'the other run to be online');
      expect(other.exitCode).toBeNull();
    } finally {
      for (const child of runs) child.kill('SIGKILL');
    }
  });

  it('a holder killed with SIGKILL leaves nothing stuck: the next command takes over at once', async () => {
    const laptop = peer('Laptop');
    laptop.ticket();
    // `invite` holds the directory while it waits (no run is up); kill it where it stands.
    const invite = cliProcess(laptop.dir, ['invite', '--bind', '127.0.0.1']);
    await eventually(async () => /vault-peers join VP1/.test(invite.output()), 15_000, 'the invite');
    expect(existsSync(join(laptop.dir, 'lock'))).toBe(true);
    invite.kill('SIGKILL');
    await new Promise((resolve) => invite.once('exit', resolve));
    const started = Date.now();
    const listed = cli(laptop.dir, ['list']);
    expect(listed.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);

    await laptop.start();
    await laptop.stop('SIGKILL');
    await laptop.start();
    expect((await laptop.list()).self.name).toBe('Laptop');
  });

  it('the policy is saved through the one queue: after parallel edits the file and the running peer agree', async () => {
    const laptop = peer('Laptop');
    laptop.join(offlineTicket(), 'Phone');
    laptop.join(offlineTicket(), 'Tablet');
    await laptop.start();
    const [phone, tablet] = (await laptop.list()).peers.map((p) => p.nodeId.slice(0, 8));
    for (let round = 0; round < 8; round += 1) {
      const policy = round % 2 ? 'reject' : 'ask';
      const results = await Promise.all([
        cliAsync(laptop.dir, ['policy', policy]),
        cliAsync(laptop.dir, ['rename', phone!, `Phone ${round}`]),
        cliAsync(laptop.dir, ['rename', tablet!, `Tablet ${round}`]),
      ]);
      expect(results.map((r) => r.code)).toEqual([0, 0, 0]);
      const live = (await laptop.command('pending')) as { policy: string };
      const file = stored(laptop);
      expect({ round, policy: file.settings?.unknownDevices, names: names(file.peers) }).toEqual({
        round,
        policy: live.policy,
        names: names((await laptop.list()).peers),
      });
    }
  });
});
