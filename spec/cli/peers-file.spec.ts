/**
 * The peers file as people and crashes leave it (issue 10, point 17): a
 * byte-order mark loads, bytes that are not UTF-8 are refused (backed up and
 * reported, never replaced), repeated entries are reported, a symbolic link
 * stays a link, and temporary files a killed writer left are cleaned up.
 */
import { lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSecretKey, nodeIdOfSecretKey, ticketForAddress } from '../../src/transport/iroh-transport';
import { cli, headlessPeers, type HeadlessPeer } from '../support/headless';

jest.setTimeout(60_000);

const peer = headlessPeers();

function storedPeer(name: string): Record<string, unknown> {
  const nodeId = nodeIdOfSecretKey(generateSecretKey());
  return { nodeId, name, ticket: ticketForAddress({ nodeId, addresses: ['127.0.0.1:9'], relay: null }), addedAt: '2026-11-20T10:00:00.000Z', lastSyncAt: null, autoConnect: true };
}

/** A device whose state directory exists (key and port stored), with `document` written as its peers file. */
function deviceWith(document: string | Buffer): HeadlessPeer {
  const laptop = peer('Laptop');
  laptop.ticket();
  writeFileSync(join(laptop.dir, 'peers.json'), document, { mode: 0o600 });
  return laptop;
}

/** A UDP port nothing listens on right now. */
function freePort(): Promise<number> {
  const socket = createSocket('udp4');
  return new Promise((resolve) => socket.bind(0, '127.0.0.1', () => {
    const { port } = socket.address();
    socket.close(() => resolve(port));
  }));
}

const backups = (dir: string): string[] => readdirSync(dir).filter((f) => f.startsWith('peers.json.damaged-'));

describe('the peers file', () => {
  it('loads a file that starts with a UTF-8 byte-order mark, and saves it without one, keeping every key', () => {
    const desktop = storedPeer('Desktop');
    const laptop = deviceWith(`\ufeff${JSON.stringify({ peers: [desktop], settings: { deviceName: 'Laptop', theirs: 1 }, extra: [1] }, null, 2)}`);
    const listed = cli(laptop.dir, ['list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/Desktop/);
    expect(cli(laptop.dir, ['rename', 'Desktop', 'Work desktop']).code).toBe(0);
    const saved = readFileSync(join(laptop.dir, 'peers.json'));
    expect(saved[0]).toBe('{'.charCodeAt(0));
    expect(JSON.parse(saved.toString('utf8'))).toMatchObject({ peers: [{ ...desktop, name: 'Work desktop' }], settings: { deviceName: 'Laptop', theirs: 1 }, extra: [1] });
  });

  it('refuses bytes that are not UTF-8: one-line error, the file unchanged, an exact copy kept beside it', async () => {
    const text = JSON.stringify({ peers: [storedPeer('Desk-NAME')] });
    const bytes = Buffer.from(text, 'utf8');
    const at = bytes.indexOf('NAME');
    bytes[at] = 0xff; // a byte no UTF-8 text contains
    const laptop = deviceWith(bytes);
    for (const args of [['list'], ['rename', 'x', 'y'], ['join', storedPeer('Other').ticket as string]]) {
      const result = cli(laptop.dir, args);
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(/is not UTF-8 text \(it may be damaged, or saved in another encoding\)\. Fix or move it away; it was not changed\. A copy is kept at .*peers\.json\.damaged-[0-9a-f]{12}\./);
    }
    await expect(laptop.start()).rejects.toThrow(/exited with 1/);
    expect(readFileSync(join(laptop.dir, 'peers.json'))).toEqual(bytes);
    expect(backups(laptop.dir)).toHaveLength(1);
    expect(readFileSync(join(laptop.dir, backups(laptop.dir)[0]!))).toEqual(bytes);
  });

  it('reports a repeated peer and a repeated pairing request, with a copy of the file as it was, instead of dropping them silently', () => {
    const desktop = storedPeer('Desktop');
    const request = { nodeId: nodeIdOfSecretKey(generateSecretKey()), name: 'Phone', ticket: storedPeer('x').ticket, requestedAt: '2026-11-24T10:00:00.000Z' };
    const text = JSON.stringify({ peers: [desktop, { ...desktop, name: 'Desktop copy' }], pendingRequests: [request, { ...request, name: 'Phone again' }] }, null, 2);
    const laptop = deviceWith(text);
    const listed = cli(laptop.dir, ['list']);
    expect(listed.code).toBe(0);
    expect(listed.stderr).toMatch(/^warning: A copy of the file as it was is kept at .*peers\.json\.damaged-[0-9a-f]{12}\.$/m);
    expect(listed.stderr).toMatch(new RegExp(`^warning: Stored peer #2 repeats the device ${desktop.nodeId as string}; the first entry is used\\.`, 'm'));
    expect(listed.stderr).toMatch(new RegExp(`^warning: Stored pairing request #2 repeats the device ${request.nodeId}; the first entry is used\\.`, 'm'));
    expect(backups(laptop.dir).map((f) => readFileSync(join(laptop.dir, f), 'utf8'))).toEqual([text]);
  });

  it('a symbolic link stays a link: the file it points to is the one written', () => {
    const laptop = peer('Laptop');
    laptop.ticket();
    const elsewhere = mkdtempSync(join(tmpdir(), 'vp-target-'));
    const target = join(elsewhere, 'my-peers.json');
    writeFileSync(target, readFileSync(join(laptop.dir, 'peers.json')), { mode: 0o600 });
    rmSync(join(laptop.dir, 'peers.json'));
    symlinkSync(target, join(laptop.dir, 'peers.json'));
    try {
      expect(cli(laptop.dir, ['join', storedPeer('Desktop').ticket as string, '--name', 'Desktop']).code).toBe(0);
      expect(lstatSync(join(laptop.dir, 'peers.json')).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(laptop.dir, 'peers.json'))).toBe(target);
      expect(JSON.parse(readFileSync(target, 'utf8')).peers).toEqual([expect.objectContaining({ name: 'Desktop' })]);
      expect(readdirSync(elsewhere)).toEqual(['my-peers.json']);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it("a file in the plugin's older spelling (`bindPort`) is migrated to the shared schema, keeping every other key, and its port is used", async () => {
    const port = await freePort();
    const laptop = deviceWith(JSON.stringify({ settings: { bindPort: port, deviceName: 'Laptop', relayMode: 'disabled', theirs: true }, peers: [], other: 1 }));
    expect(cli(laptop.dir, ['list']).code).toBe(0);
    expect(JSON.parse(laptop.stateFile())).toEqual({ settings: { port, deviceName: 'Laptop', relayMode: 'disabled', theirs: true }, peers: [], other: 1 });
    await laptop.start('127.0.0.1');
    expect(laptop.output.find((line) => / is online on /.test(line))).toContain(`127.0.0.1:${port}`);
  });

  it('removes the temporary files a killed writer left, and nothing else', () => {
    const laptop = peer('Laptop');
    laptop.ticket();
    const left = ['peers.json.4242.deadbeef.tmp', 'device.key.4242.cafebabe.tmp'];
    for (const file of left) writeFileSync(join(laptop.dir, file), '{"half": ');
    writeFileSync(join(laptop.dir, 'peers.json.notes'), 'mine');
    expect(cli(laptop.dir, ['list']).code).toBe(0);
    expect(readdirSync(laptop.dir).sort()).toEqual(['device.key', 'peers.json', 'peers.json.notes']);
  });
});
