/**
 * Pairing with one-time invites and the unknown-device policy, between
 * headless peers in separate processes over real iroh on loopback.
 */
import { encodeInvite, parseInvite } from '../../src/core/pairing/invite-codec';
import { REFUSED_EXPIRED_INVITE, REFUSED_UNKNOWN_INVITE, REFUSED_USED_INVITE } from '../../src/core/messages';
import { HeadlessPeer, cli, eventually, headlessPeers, statusIs } from '../support/headless';

jest.setTimeout(90_000);

const peer = headlessPeers();

function storedPeers(p: HeadlessPeer): { nodeId: string; name: string }[] {
  try {
    return JSON.parse(p.stateFile()).peers ?? [];
  } catch {
    return []; // no state file yet: nothing stored
  }
}

const codeIn = (text: string): string => /Verification code: (\d{3} \d{3})/.exec(text)?.[1] ?? 'none';

describe('pairing with an invite', () => {
  it('pairs both ways: the inviter needs nothing more, both store each other by announced name, both show the same code', async () => {
    const laptop = peer('Laptop');
    const desktop = peer('Desktop');
    await Promise.all([laptop.start(), desktop.start()]);

    const invite = await laptop.invite();
    const joined = await desktop.command('join', invite.text);
    const { code, output } = await invite.outcome;
    expect(code).toBe(0);
    expect(output).toMatch(/Paired with Desktop/);
    expect(codeIn(output)).toBe((joined as { verificationCode: string }).verificationCode);
    await statusIs(laptop, desktop, 'connected');
    await statusIs(desktop, laptop, 'connected');
    expect(storedPeers(laptop).map((p) => p.name)).toEqual(['Desktop']);
    expect(storedPeers(desktop).map((p) => p.name)).toEqual(['Laptop']);

    // The other way round, with an inviter that is not running `run`: `invite` goes online by itself.
    const phone = peer('Phone');
    const fromPhone = await phone.invite();
    const result = cli(laptop.dir, ['join', fromPhone.text]); // through the laptop's running peer
    expect(result.code).toBe(0);
    const phoneSide = await fromPhone.outcome;
    expect(phoneSide.code).toBe(0);
    expect(codeIn(result.stdout)).toBe(codeIn(phoneSide.output));
    expect(storedPeers(phone).map((p) => p.name)).toEqual(['Laptop']);
    expect(storedPeers(laptop).map((p) => p.name).sort()).toEqual(['Desktop', 'Phone']);
  });

  it('a forged invite (right address, wrong secret) is refused on both sides, and nothing is stored', async () => {
    const laptop = peer('Laptop');
    const intruder = peer('Intruder');
    await Promise.all([laptop.start(), intruder.start()]);
    const real = await laptop.invite();
    const forged = encodeInvite({ ...parseInvite(real.text), secret: 'deadbeefdeadbeefdeadbeefdeadbeef' });
    const attempt = await intruder.attempt('join', forged);
    expect(attempt).toEqual({ ok: false, text: REFUSED_UNKNOWN_INVITE });
    await eventually(async () => laptop.output.some((l) => l.includes(REFUSED_UNKNOWN_INVITE)), 5_000, 'the refusal on the laptop');
    expect(storedPeers(laptop)).toEqual([]);
    expect(storedPeers(intruder)).toEqual([]);
    expect((await laptop.list()).peers).toEqual([]);
  });

  it('an expired invite is refused: by the joiner before dialling, and by the inviter if the clocks disagree', async () => {
    const laptop = peer('Laptop');
    const desktop = peer('Desktop');
    await Promise.all([laptop.start(), desktop.start()]);
    const invite = await laptop.invite('1s');
    const ended = await invite.outcome;
    expect(ended.code).toBe(1);
    expect(ended.output).toMatch(/expired before any device used it/);

    const locally = await desktop.attempt('join', invite.text);
    expect(locally.ok).toBe(false);
    expect(locally.text).toMatch(/This invite expired at .* Ask the other device for a new one/);

    // A joiner whose clock is behind: same secret, later expiry.
    const lateClock = encodeInvite({ ...parseInvite(invite.text), expiresAt: Date.now() + 3_600_000 });
    expect(await desktop.attempt('join', lateClock)).toEqual({ ok: false, text: REFUSED_EXPIRED_INVITE });
    expect(storedPeers(laptop)).toEqual([]);
    expect(storedPeers(desktop)).toEqual([]);
  });

  it('a second use of the same invite is refused with the reason; only the first device is stored', async () => {
    const laptop = peer('Laptop');
    const desktop = peer('Desktop');
    const other = peer('Other');
    await Promise.all([laptop.start(), desktop.start(), other.start()]);
    const invite = await laptop.invite();
    await desktop.command('join', invite.text);
    expect((await invite.outcome).code).toBe(0);
    expect(await other.attempt('join', invite.text)).toEqual({ ok: false, text: REFUSED_USED_INVITE });
    expect(storedPeers(laptop).map((p) => p.name)).toEqual(['Desktop']);
    expect(storedPeers(other)).toEqual([]);
  });

  it('after one device removed the other, the two pair again with a fresh invite', async () => {
    const laptop = peer('Laptop');
    const desktop = peer('Desktop');
    await Promise.all([laptop.start(), desktop.start()]);
    const first = await laptop.invite();
    await desktop.command('join', first.text);
    await statusIs(desktop, laptop, 'connected');

    await laptop.command('remove', 'Desktop');
    const removed = await statusIs(desktop, laptop, 'disconnected');
    expect(removed.lastError).toMatch(/Removed by the other device/);

    const fresh = await laptop.invite();
    await desktop.command('join', fresh.text);
    expect((await fresh.outcome).code).toBe(0);
    await statusIs(laptop, desktop, 'connected');
    await statusIs(desktop, laptop, 'connected');
    expect(storedPeers(desktop).map((p) => p.name)).toEqual(['Laptop']);
  });

  it('a damaged invite gets a one-line error and changes nothing', async () => {
    const laptop = peer('Laptop');
    const desktop = peer('Desktop');
    desktop.ticket();
    const before = desktop.stateFile();
    const { text } = await laptop.invite();
    const damaged = `${text.slice(0, 50)}${text[50] === 'Q' ? 'R' : 'Q'}${text.slice(51)}`;
    const result = cli(desktop.dir, ['join', damaged]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/This invite is damaged/);
    expect(desktop.stateFile()).toBe(before);
  });
});

describe('unknown devices', () => {
  it('under `ask`, a request waits in a list (surviving a restart) until accepted; then both connect', async () => {
    const laptop = peer('Laptop');
    const stranger = peer('Stranger');
    stranger.join(laptop); // the stranger has the laptop's plain ticket; the laptop does not know it
    await laptop.start();
    await laptop.command('policy', 'ask');
    await stranger.start();
    const waiting = await eventually(async () => {
      const row = await stranger.statusOf(laptop);
      return /Waiting for approval/.test(row?.lastError ?? '') ? row : undefined;
    }, 15_000, 'the stranger to be told to wait');
    expect(waiting.status).toBe('disconnected');
    expect(laptop.output.some((l) => /Stranger \([0-9a-f]{8}\) asks to pair/.test(l))).toBe(true);

    await laptop.stop();
    await laptop.start();
    const pending = (await laptop.command('pending')) as { policy: string; pending: { name: string }[] };
    expect(pending.policy).toBe('ask');
    expect(pending.pending.map((r) => r.name)).toEqual(['Stranger']);

    await laptop.command('accept', 'stranger');
    await statusIs(laptop, stranger, 'connected');
    await statusIs(stranger, laptop, 'connected');
    expect(((await laptop.command('pending')) as { pending: unknown[] }).pending).toEqual([]);
  });

  it('a blocked device is refused silently from then on, and counted', async () => {
    const laptop = peer('Laptop');
    const pest = peer('Pest');
    pest.join(laptop);
    await laptop.start();
    await laptop.command('policy', 'ask');
    await pest.start();
    await eventually(async () => (((await laptop.command('pending')) as { pending: unknown[] }).pending.length === 1 ? true : undefined));
    await laptop.command('block', 'pest');

    await pest.stop();
    await pest.start();
    const row = await eventually(async () => {
      const seen = await pest.statusOf(laptop);
      return /not paired/.test(seen?.lastError ?? '') ? seen : undefined;
    }, 15_000, 'the blocked device to be refused');
    expect(row.status).toBe('disconnected');
    const lists = (await laptop.command('pending')) as { pending: unknown[]; blocked: { name: string; refusals: number }[] };
    expect(lists.pending).toEqual([]);
    expect(lists.blocked).toEqual([expect.objectContaining({ name: 'Pest', refusals: expect.any(Number) })]);
    expect(lists.blocked[0]!.refusals).toBeGreaterThanOrEqual(1);
    expect((await laptop.list()).peers).toEqual([]);
  });
});
