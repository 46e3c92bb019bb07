/**
 * Lifetimes and honest answers (issue 10, points 12-15): `run` stops within
 * 2 s of SIGTERM or Ctrl-C and cancels its open invites; an invite lives only
 * as long as the command showing it; `join` waits for what actually happens
 * and says it: paired, added, waiting for the other device, or refused.
 */
import { REASON_NOT_PAIRED, REFUSED_CANCELLED_INVITE } from '../../src/core/messages';
import { generateSecretKey, nodeIdOfSecretKey, ticketForAddress } from '../../src/transport/iroh-transport';
import { cli, cliAsync, eventually, headlessPeers, statusIs, type HeadlessPeer } from '../support/headless';

jest.setTimeout(120_000);

const peer = headlessPeers();

const storedNames = (device: HeadlessPeer): string[] =>
  ((JSON.parse(device.stateFile()).peers ?? []) as { name: string }[]).map((p) => p.name).sort();

describe('shutdown', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s stops run within 2 s while an invite waits, cancelling the invite', async (signal) => {
    const laptop = peer('Laptop');
    await laptop.start();
    const invite = await laptop.invite();
    const asked = Date.now();
    expect(await laptop.stop(signal)).toBe(0);
    const took = Date.now() - asked;
    // The target is 2 s (the peer gives itself 1.5 s); a loaded machine may add a little on top.
    expect(took).toBeLessThan(4_000);
    const ended = await invite.outcome;
    expect(ended.code).toBe(1);
    expect(ended.output).toMatch(/^The invite was cancelled\.$/m);
    expect(storedNames(laptop)).toEqual([]);
    expect(laptop.output).toContain('Shutting down.');
  });

  it('Ctrl-C of an invite that holds the directory itself (no run) ends it at once, cancelled', async () => {
    const laptop = peer('Laptop');
    const invite = await laptop.invite();
    invite.child.kill('SIGINT');
    const ended = await invite.outcome;
    expect(ended.code).toBe(1);
    expect(ended.output).toMatch(/^The invite was cancelled\.$/m);
  });
});

describe('an invite lives as long as the command showing it', () => {
  it.each(['SIGKILL', 'SIGINT'] as const)('after %s of the invite command, the running peer refuses its secret', async (signal) => {
    const laptop = peer('Laptop');
    const desktop = peer('Desktop');
    await Promise.all([laptop.start(), desktop.start()]);
    const invite = await laptop.invite();
    invite.child.kill(signal);
    await invite.outcome;
    expect(await desktop.attempt('join', invite.text)).toEqual({ ok: false, text: REFUSED_CANCELLED_INVITE });
    expect(storedNames(laptop)).toEqual([]);
    expect((await laptop.list()).peers).toEqual([]);
  });
});

describe('join says what happened', () => {
  it('with every dial slot held by unreachable devices, a join by invite waits its turn and reports the pairing', async () => {
    const laptop = peer('Laptop');
    const desktop = peer('Desktop');
    for (let i = 0; i < 8; i += 1) {
      const nodeId = nodeIdOfSecretKey(generateSecretKey());
      desktop.join(ticketForAddress({ nodeId, addresses: ['127.0.0.1:9'], relay: null }), `Gone ${i}`);
    }
    await Promise.all([laptop.start(), desktop.start()]);
    const invite = await laptop.invite();
    const joined = await cliAsync(desktop.dir, ['join', invite.text], { timeoutMs: 100_000 });
    expect(joined).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Paired with Laptop \([0-9a-f]{8}\)\.\nVerification code: \d{3} \d{3}/) });
    expect((await invite.outcome).code).toBe(0);
    expect(storedNames(laptop)).toEqual(['Desktop']);
    expect(storedNames(desktop)).toContain('Laptop');
  });

  it('a plain ticket: refused (exit 4), paired (exit 0), refused once removed (exit 4), waiting for approval (exit 3)', async () => {
    const laptop = peer('Laptop');
    const stranger = peer('Stranger');
    const friend = peer('Friend');
    await Promise.all([laptop.start(), stranger.start(), friend.start()]);
    const ticket = laptop.runTicket();

    const refused = cli(stranger.dir, ['join', ticket, '--name', 'Laptop']);
    expect(refused.code).toBe(4);
    expect(refused.stdout.trim()).toMatch(new RegExp(`^Added Laptop \\([0-9a-f]{8}\\) here, but it refused this device: ${REASON_NOT_PAIRED.replace(/\./g, '\\.')} It connects once`));

    expect(cli(laptop.dir, ['join', friend.runTicket(), '--name', 'Friend']).code).not.toBe(1);
    const paired = cli(friend.dir, ['join', ticket, '--name', 'Laptop']);
    expect({ code: paired.code, stdout: paired.stdout.trim() }).toEqual({
      code: 0,
      stdout: expect.stringMatching(/^(Paired with Laptop \([0-9a-f]{8}\): the other device accepted this one|Already paired with Laptop)/),
    });
    await statusIs(laptop, friend, 'connected');

    expect(cli(laptop.dir, ['remove', 'Friend']).code).toBe(0);
    await eventually(async () => ((await friend.statusOf(laptop))?.status === 'connected' ? undefined : true), 10_000, 'the friend to be dropped');
    const again = cli(friend.dir, ['join', ticket]);
    expect(again.code).toBe(4);
    expect(again.stdout).toMatch(/^Added Laptop \([0-9a-f]{8}\) here, but it refused this device/);

    expect(cli(laptop.dir, ['policy', 'ask']).code).toBe(0);
    const asking = peer('Asking');
    await asking.start();
    const waiting = cli(asking.dir, ['join', ticket, '--name', 'Laptop']);
    expect(waiting.code).toBe(3);
    expect(waiting.stdout).toMatch(/^Added Laptop \([0-9a-f]{8}\)\. It is waiting for its owner to accept this device/);
  });
});
