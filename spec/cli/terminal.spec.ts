/**
 * What a person at the terminal expects (issue 10, point 16): `connect` and
 * `disconnect`; status lines in local time with the zone; no `disconnected`
 * line before the first `connected` of a new pairing; no escape codes when the
 * output is not a terminal; one wording for one refusal.
 */
import { REASON_NOT_PAIRED, REASON_PAUSED } from '../../src/core/messages';
import { cli, eventually, headlessPeers, noLongerConnected, statusIs, type HeadlessPeer } from '../support/headless';

jest.setTimeout(90_000);

const peer = headlessPeers();

function pairedTwo(): [HeadlessPeer, HeadlessPeer] {
  const laptop = peer('Laptop');
  const desktop = peer('Desktop');
  laptop.join(desktop);
  desktop.join(laptop);
  return [laptop, desktop];
}

describe('the terminal', () => {
  it('connect and disconnect act on the running peer, and say so; without one they explain', async () => {
    const [laptop, desktop] = pairedTwo();
    const offline = cli(laptop.dir, ['connect', 'Desktop']);
    expect(offline.code).toBe(1);
    expect(offline.stderr).toMatch(/^vault-peers: No peer is running for .*`vault-peers connect` acts on the live connections of `vault-peers run`: start that first\.$/m);

    await Promise.all([laptop.start(), desktop.start()]);
    await statusIs(laptop, desktop, 'connected');
    const disconnected = cli(laptop.dir, ['disconnect', 'desktop']);
    expect(disconnected.code).toBe(0);
    expect(disconnected.stdout.trim()).toMatch(/^Disconnected Desktop \(([0-9a-f]{8})\)\. It stays paired; `vault-peers connect \1` connects again\.$/);
    await noLongerConnected(laptop, desktop);
    // It stays so: the desktop's redials are turned away while the laptop has it paused.
    await eventually(async () => ((await desktop.statusOf(laptop))?.lastError === REASON_PAUSED ? true : undefined), 15_000, 'the desktop to be told');
    expect((await laptop.statusOf(desktop))?.status).toBe('disconnected');

    const connected = cli(laptop.dir, ['connect', 'Desktop']);
    expect({ code: connected.code, stdout: connected.stdout.trim() }).toEqual({ code: 0, stdout: expect.stringMatching(/^Connected to Desktop \([0-9a-f]{8}\)\.$/) });
    await statusIs(laptop, desktop, 'connected');
  });

  it('status lines show local time with its zone, and a new pairing starts with its connected line', async () => {
    const laptop = peer('Laptop');
    const desktop = peer('Desktop');
    await Promise.all([laptop.start('127.0.0.1', { env: { TZ: 'Asia/Kolkata' } }), desktop.start()]);
    const invite = await laptop.invite();
    expect(cli(desktop.dir, ['join', invite.text]).code).toBe(0);
    await eventually(async () => laptop.output.some((line) => / Desktop \([0-9a-f]{8}\) connected$/.test(line)), 10_000, 'the connected line');
    const aboutDesktop = laptop.output.filter((line) => / Desktop \([0-9a-f]{8}\) /.test(line));
    expect(aboutDesktop[0]).toMatch(/^\d\d:\d\d:\d\d\+05:30 Desktop \([0-9a-f]{8}\) connected$/);
    expect(laptop.output.filter((line) => /paired with Desktop/.test(line))).toEqual([expect.stringMatching(/^\d\d:\d\d:\d\d\+05:30 paired with Desktop/)]);
  });

  it('no escape codes when the output is not a terminal, the QR code included', async () => {
    const laptop = peer('Laptop');
    const invite = await laptop.invite();
    invite.child.kill('SIGINT');
    const { output } = await invite.outcome;
    expect(output).toMatch(/█/); // the QR code is there, as plain block characters
    expect(output).not.toMatch(/\u001b/);
    const ticket = cli(laptop.dir, ['invite', '--ticket', '--bind', '127.0.0.1']);
    expect(ticket.stdout).toMatch(/vault-peers join endpoint/);
    expect(ticket.stdout).not.toMatch(/\u001b/);
  });

  it('one wording for one refusal: a device that never knew the stranger and one that removed it say the same', async () => {
    const [laptop, desktop] = pairedTwo();
    const fresh = peer('Fresh');
    await Promise.all([laptop.start(), desktop.start(), fresh.start()]);
    await statusIs(laptop, desktop, 'connected');
    // The fresh device never heard of the desktop.
    expect(cli(desktop.dir, ['join', fresh.runTicket(), '--name', 'Fresh']).code).toBe(4);
    expect((await desktop.statusOf('Fresh'))?.lastError).toBe(REASON_NOT_PAIRED);
    // The laptop removes the desktop, then the desktop dials again.
    await laptop.command('remove', 'Desktop');
    await noLongerConnected(desktop, laptop);
    await desktop.stop();
    await desktop.start();
    const row = await eventually(async () => {
      const seen = await desktop.statusOf(laptop);
      return seen?.lastError === REASON_NOT_PAIRED ? seen : undefined;
    }, 20_000, 'the refusal after removal');
    expect(row.lastError).toBe(REASON_NOT_PAIRED);
  });
});
