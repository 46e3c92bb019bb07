/**
 * Terminal injection (issue 10, point 5): names and close reasons another
 * device chooses reach `run`, `list`, `pending` and `join` only after
 * safeRemoteText, and `--json` keeps them exact but escaped. Real processes,
 * real iroh on loopback; the hostile side is a headless peer with a hostile
 * name, then an endpoint holding its key that refuses with a hostile reason.
 */
import * as iroh from '@number0/iroh/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_NAME_LENGTH } from '../../src/core/model';
import { isSafeRemoteText, safeRemoteText } from '../../src/core/remote-text';
import { ALPN } from '../../src/transport/control-protocol';
import { CLOSE_REFUSED } from '../../src/transport/iroh-errors';
import { cli, eventually, headlessPeers, type HeadlessPeer, type PeerRow } from '../support/headless';

jest.setTimeout(120_000);

const peer = headlessPeers();

/** Retitles the terminal, clears the screen through a C1 CSI, and reverses the rest of the line. */
const HOSTILE_NAME = 'Evil\u001b]0;owned\u0007 \u009b2J\u202Eexe.txt\u2066x';
/** Clears the screen, writes the clipboard (OSC 52), reverses text and sets a colour through C1. */
const HOSTILE_REASON = 'Nope\u001b[2J\u001b]52;c;SGVsbG8=\u0007 \u202Eyou are paired\u009b31m';

/** Every line is safe to print: no control characters, no bidi controls. */
function expectSafeLines(text: string): void {
  expect(text.split('\n').filter((line) => !isSafeRemoteText(line))).toEqual([]);
}

async function rowOf(from: HeadlessPeer, nodeId: string): Promise<PeerRow | undefined> {
  return (await from.list()).peers.find((p) => p.nodeId === nodeId);
}

/** An endpoint with `device`'s key on its port that refuses every connection with `reason`, as a hostile device can. */
async function impostorOf(device: HeadlessPeer, reason: string): Promise<() => Promise<void>> {
  const port = JSON.parse(device.stateFile()).settings.port as number;
  const key = readFileSync(join(device.dir, 'device.key'), 'utf8').trim();
  const builder = iroh.Endpoint.builder();
  iroh.presetMinimal(builder);
  builder.secretKey(Array.from(Buffer.from(key, 'hex')));
  builder.alpns([Array.from(Buffer.from(ALPN))]);
  builder.bindAddr(`127.0.0.1:${port}`);
  const endpoint = await builder.bind();
  const refusing = (async () => {
    for (;;) {
      const incoming = await endpoint.acceptNext().catch(() => null);
      if (!incoming) return;
      const connection = await (await incoming.accept()).connect();
      connection.close(CLOSE_REFUSED, Array.from(Buffer.from(reason)));
    }
  })();
  return async () => {
    await endpoint.close();
    await refusing;
  };
}

describe('text from other devices on the terminal', () => {
  it('a hostile name and close reason are shown safely by join, run, list and pending; --json keeps them exact, escaped', async () => {
    const victim = peer('Victim');
    const hostile = peer(HOSTILE_NAME);
    await Promise.all([victim.start(), hostile.start()]);
    const hostileId = await hostile.nodeId();

    const invite = await hostile.invite();
    const joined = cli(victim.dir, ['join', invite.text]);
    expect(joined.code).toBe(0);
    expect(joined.stdout).toMatch(/^Paired with Evil/);
    expectSafeLines(joined.stdout);
    await eventually(async () => (await rowOf(victim, hostileId))?.status === 'connected', 15_000, 'the victim to connect');

    // Its close reason: an endpoint with its key and port refuses the victim's next dial.
    await hostile.stop();
    const stopImpostor = await impostorOf(hostile, HOSTILE_REASON);
    try {
      cli(victim.dir, ['connect', hostileId.slice(0, 8)]);
      await eventually(async () => (await rowOf(victim, hostileId))?.lastError?.startsWith('Nope'), 20_000, 'the hostile refusal');
    } finally {
      await stopImpostor();
    }
    // The core keeps only a safe form of what another device says (see safeRemoteText).
    expect((await rowOf(victim, hostileId))?.lastError).toBe(safeRemoteText(HOSTILE_REASON, 300));

    const listed = cli(victim.dir, ['list']).stdout;
    expect(listed).toMatch(/Evil.*\(Nope .*you are paired/);
    expectSafeLines(listed);
    const json = cli(victim.dir, ['list', '--json']).stdout;
    expectSafeLines(json);
    const parsed = JSON.parse(json) as { peers: PeerRow[] };
    expect(parsed.peers[0]!.lastError).toBe(safeRemoteText(HOSTILE_REASON, 300));
    expect(parsed.peers[0]!.name).toBe(safeRemoteText(HOSTILE_NAME, MAX_NAME_LENGTH));

    // A device asking to pair under `ask`, with the same name.
    expect(cli(victim.dir, ['policy', 'ask']).code).toBe(0);
    const asking = peer(`${HOSTILE_NAME}2`);
    asking.join(victim.runTicket());
    await asking.start();
    await eventually(async () => (((await victim.command('pending')) as { pending: unknown[] }).pending.length === 1 ? true : undefined), 20_000, 'the request');
    const pending = cli(victim.dir, ['pending']).stdout;
    expect(pending).toMatch(/Asking to pair:\n {2}Evil/);
    expectSafeLines(pending);
    expectSafeLines(cli(victim.dir, ['pending', '--json']).stdout);

    await eventually(async () => victim.output.some((line) => / asks to pair: /.test(line)), 10_000, 'the request line');
    expect(victim.output.filter((line) => /Evil/.test(line)).length).toBeGreaterThanOrEqual(3);
    expectSafeLines(victim.output.join('\n'));
  });
});
