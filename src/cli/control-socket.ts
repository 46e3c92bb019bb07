/**
 * A local control channel between one-shot commands and a running `run`, so
 * that `list`, `join`, `rename` and `remove` act on the live process instead
 * of racing it for the state file. A Unix socket (a named pipe on Windows),
 * never a network address.
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface ControlRequest {
  readonly command: string;
  readonly args: readonly string[];
  readonly options: Readonly<Record<string, string | boolean | undefined>>;
}

export type ControlReply = { readonly ok: true; readonly output: unknown } | { readonly ok: false; readonly error: string };

const MAX_REQUEST_BYTES = 64 * 1024;

export function controlPath(stateDir: string): string {
  const hash = createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 16);
  return process.platform === 'win32' ? `\\\\.\\pipe\\vault-peers-${hash}` : join(tmpdir(), `vault-peers-${hash}.sock`);
}

export async function serveControl(
  path: string,
  handle: (request: ControlRequest) => Promise<unknown>,
): Promise<Server> {
  if (process.platform !== 'win32') rmSync(path, { force: true });
  const server = createServer((socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_REQUEST_BYTES) {
        socket.destroy();
        return;
      }
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      let request: ControlRequest;
      try {
        request = JSON.parse(buffer.slice(0, newline)) as ControlRequest;
      } catch {
        socket.end(`${JSON.stringify({ ok: false, error: 'bad request' })}\n`);
        return;
      }
      handle(request).then(
        (output) => socket.end(`${JSON.stringify({ ok: true, output })}\n`),
        (error: unknown) => socket.end(`${JSON.stringify({ ok: false, error: error instanceof Error ? error.message : String(error) })}\n`),
      );
    });
  });
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
  return server;
}

/** Sends one request to a running peer; null when none is listening. */
export function askRunningPeer(path: string, request: ControlRequest, timeoutMs = 15_000): Promise<ControlReply | null> {
  return new Promise((resolvePromise) => {
    const socket = createConnection(path);
    let buffer = '';
    let settled = false;
    const settle = (reply: ControlReply | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolvePromise(reply);
    };
    const timer = setTimeout(() => settle({ ok: false, error: 'The running peer did not answer in time.' }), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline >= 0) settle(JSON.parse(buffer.slice(0, newline)) as ControlReply);
    });
    socket.on('error', () => settle(null));
    socket.on('close', () => settle(null));
  });
}
