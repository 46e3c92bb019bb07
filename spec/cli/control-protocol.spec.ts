/**
 * The control socket's protocol (issue 10, point 4): one request per
 * connection, a size limit and an idle timeout, against a real `run`.
 */
import { createConnection, type Socket } from 'node:net';
import { REFUSED_USED_INVITE } from '../../src/core/messages';
import { MAX_REQUEST_BYTES } from '../../src/cli/control-socket';
import { eventually, headlessPeers, listeningSocket } from '../support/headless';

jest.setTimeout(90_000);

const peer = headlessPeers();

interface Raw {
  readonly socket: Socket;
  /** Every line the server sent, parsed. */
  readonly lines: Record<string, unknown>[];
  readonly closed: Promise<number>;
}

/** A connection to a running peer's socket, recording what comes back and when it closes (ms after connecting). */
async function connectRaw(dir: string): Promise<Raw> {
  const socket = createConnection(listeningSocket(dir));
  const lines: Record<string, unknown>[] = [];
  let buffer = '';
  const started = Date.now();
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buffer.slice(0, newline)) as Record<string, unknown>);
      buffer = buffer.slice(newline + 1);
    }
  });
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, lines, closed };
}

const results = (raw: Raw): Record<string, unknown>[] => raw.lines.filter((line) => line.type === 'result' || 'ok' in line);

describe('the control socket', () => {
  it('runs one request per connection: bytes sent after a join do not join again', async () => {
    const laptop = peer('Laptop');
    const desktop = peer('Desktop');
    await Promise.all([laptop.start(), desktop.start()]);
    const invite = await laptop.invite();
    const raw = await connectRaw(desktop.dir);
    raw.socket.write(`${JSON.stringify({ command: 'join', args: [invite.text], options: {} })}\n`);
    for (const extra of ['x', '\n', `${JSON.stringify({ command: 'join', args: [invite.text], options: {} })}\n`]) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      raw.socket.write(extra);
    }
    await eventually(async () => (results(raw).length > 0 ? true : undefined), 20_000, 'the join to answer');
    expect(results(raw)).toEqual([expect.objectContaining({ ok: true })]);
    expect((await invite.outcome).code).toBe(0);
    // A second run of the join would reach the laptop with the used invite and be refused there: give it time to show.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(laptop.output.filter((line) => line.includes(REFUSED_USED_INVITE))).toEqual([]);
    expect(laptop.output.filter((line) => /paired with Desktop/.test(line))).toHaveLength(1);
    expect(results(raw)).toHaveLength(1);
  });

  it('closes a connection that sends no request within its idle timeout', async () => {
    const laptop = peer('Laptop');
    await laptop.start();
    const raw = await connectRaw(laptop.dir);
    let timer: NodeJS.Timeout | undefined;
    const closedAfter = await Promise.race([raw.closed, new Promise<number>((resolve) => (timer = setTimeout(() => resolve(Number.POSITIVE_INFINITY), 20_000)))]);
    clearTimeout(timer);
    expect(closedAfter).toBeLessThan(10_000);
    expect(results(raw)).toEqual([]);
    expect((await laptop.list()).self.name).toBe('Laptop');
  });

  it('answers a request larger than the limit with an error and closes, without reading the rest', async () => {
    const laptop = peer('Laptop');
    await laptop.start();
    const raw = await connectRaw(laptop.dir);
    raw.socket.write('a'.repeat(MAX_REQUEST_BYTES + 1024));
    await raw.closed;
    expect(results(raw)).toEqual([expect.objectContaining({ ok: false, error: `The request is larger than ${MAX_REQUEST_BYTES} bytes.` })]);
    expect((await laptop.list()).self.name).toBe('Laptop');
  });

  it('answers a malformed request with what is wrong, and keeps serving', async () => {
    const laptop = peer('Laptop');
    await laptop.start();
    for (const [line, error] of [
      ['{not json', 'The request is not JSON.'],
      ['{"command":"list","args":"all","options":{}}', 'The arguments are not a list of strings.'],
      ['{"command":"format-disk","args":[],"options":{}}', 'Unknown command "format-disk".'],
      ['{"command":"remove","args":[],"options":{}}', 'Usage: vault-peers remove <device>'],
      ['{"command":"run","args":[],"options":{}}', expect.stringMatching(/^A peer is already running for /)],
    ] as const) {
      const raw = await connectRaw(laptop.dir);
      raw.socket.write(`${line}\n`);
      await raw.closed;
      expect(results(raw)).toEqual([expect.objectContaining({ ok: false, error })]);
    }
    expect((await laptop.list()).self.name).toBe('Laptop');
  });
});
