/**
 * The local channel between a command and the process that holds the state
 * directory (a running `run`, or another command), so that only one process
 * ever writes the state. A Unix socket in the 0700 state directory (a named
 * pipe on Windows), never a network address, created 0600 whatever the umask.
 *
 * Protocol: one request per connection, one line of JSON of at most 64 KiB,
 * sent within 5 s of connecting. The server answers with lines of JSON: a
 * `ready` as soon as it takes the connection, any number of `progress`
 * messages, then one `result`, and closes. A client that goes away aborts its
 * request (an invite it was showing is cancelled). A connection closed before
 * `ready` was never taken (the holder was letting go): nothing ran, so the
 * client may ask again; one closed after it may have run.
 */
import { lstatSync } from 'node:fs';
import { chmod, lstat, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { VaultPeersError, errorMessage } from '../core/errors';
import { currentUid } from './state-dir';

export { controlPath } from './state-dir';

export interface ControlRequest {
  readonly command: string;
  readonly args: readonly string[];
  readonly options: Readonly<Record<string, string | boolean | undefined>>;
}

export type ControlReply<R = unknown> =
  | { readonly ok: true; readonly output: R }
  /** `busy`: this holder cannot serve the request (it is offline, say); wait for it to finish. */
  | { readonly ok: false; readonly error: string; readonly busy?: boolean };

type ServerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'progress'; readonly value: unknown }
  | ({ readonly type: 'result' } & ControlReply);

export interface RequestContext {
  /** Aborted when the client goes away or the server shuts down. */
  readonly signal: AbortSignal;
  readonly progress: (value: unknown) => void;
}

/** Thrown by a handler that cannot serve this request in this process; the client waits and tries again. */
export class HolderBusyError extends VaultPeersError {}

export const MAX_REQUEST_BYTES = 64 * 1024;
export const REQUEST_IDLE_MS = 5_000;

export interface ControlServer {
  /** Requests being handled. */
  readonly active: number;
  /**
   * Stops accepting. `abort`: cancels what is running and gives it `graceMs`
   * to answer; otherwise waits for it. Then closes what is left.
   */
  close(options?: { abort?: boolean; graceMs?: number }): Promise<void>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The request in a line, or why it is not one. */
export function parseRequest(line: string): ControlRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'The request is not JSON.';
  }
  if (!isRecord(value) || typeof value.command !== 'string') return 'The request names no command.';
  const { args, options } = value;
  if (!Array.isArray(args) || !args.every((a): a is string => typeof a === 'string')) return 'The arguments are not a list of strings.';
  if (!isRecord(options) || !Object.values(options).every((o) => typeof o === 'string' || typeof o === 'boolean')) {
    return 'The options are not strings or true/false.';
  }
  return { command: value.command, args, options: options as Record<string, string | boolean> };
}

/** Removes a socket left by a killed holder; refuses anything else in the way (another user's socket, a file). */
async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const uid = currentUid();
  if (!st.isSocket() || (uid !== null && st.uid !== uid)) {
    throw new VaultPeersError(`${path} is in the way: it is not a socket this user created. Move it away and try again.`);
  }
  await rm(path, { force: true });
}

/** Listens with no permission for group or others whatever the umask, then makes sure of it. */
async function listenPrivately(server: Server, path: string): Promise<void> {
  const unix = process.platform !== 'win32';
  const previous = unix ? process.umask(0o077) : 0;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    if (unix) process.umask(previous);
  }
  if (unix) await chmod(path, 0o600);
}

/**
 * Serves requests on `path`, which must be this process's to take (it holds
 * the state directory's lock): a socket left there by a killed holder is removed.
 */
export async function serveControl(path: string, handle: (request: ControlRequest, context: RequestContext) => Promise<unknown>): Promise<ControlServer> {
  if (process.platform !== 'win32') await clearStaleSocket(path);
  const running = new Map<Socket, { abort: AbortController; done: Promise<void> }>();
  /** Connections whose request has not arrived yet, and how to turn them away when closing. */
  const waiting = new Map<Socket, () => void>();
  let closing = false;
  const CLOSING: ServerMessage = { type: 'result', ok: false, error: 'The process holding this directory is letting go of it.', busy: true };

  const serve = (socket: Socket): void => {
    let buffer = '';
    let received = 0;
    let requested = false;
    const send = (message: ServerMessage): void => {
      if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(message)}\n`);
    };
    const finish = (message: ServerMessage): void => {
      requested = true;
      waiting.delete(socket);
      send(message);
      socket.end();
    };
    // Accepted just as this process lets go: nothing was run, so the client can ask whoever holds the directory next.
    if (closing) {
      finish(CLOSING);
      return;
    }
    send({ type: 'ready' });
    waiting.set(socket, () => finish(CLOSING));
    socket.once('close', () => waiting.delete(socket));
    socket.setEncoding('utf8');
    socket.setTimeout(REQUEST_IDLE_MS, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      received += Buffer.byteLength(chunk);
      // One request per connection: what follows it is not read as another, nor as the same one again.
      if (requested) {
        if (received > 2 * MAX_REQUEST_BYTES) socket.destroy();
        return;
      }
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline < 0) {
        if (received > MAX_REQUEST_BYTES) {
          finish({ type: 'result', ok: false, error: `The request is larger than ${MAX_REQUEST_BYTES} bytes.` });
        }
        return;
      }
      requested = true;
      waiting.delete(socket);
      socket.setTimeout(0);
      const request = newline > MAX_REQUEST_BYTES ? `The request is larger than ${MAX_REQUEST_BYTES} bytes.` : parseRequest(buffer.slice(0, newline));
      buffer = '';
      if (typeof request === 'string') {
        finish({ type: 'result', ok: false, error: request });
        return;
      }
      const abort = new AbortController();
      socket.once('close', () => abort.abort());
      socket.once('end', () => abort.abort());
      const done = handle(request, { signal: abort.signal, progress: (value) => send({ type: 'progress', value }) }).then(
        (output) => finish({ type: 'result', ok: true, output }),
        (error: unknown) => finish({ type: 'result', ok: false, error: errorMessage(error), ...(error instanceof HolderBusyError ? { busy: true } : {}) }),
      );
      running.set(socket, { abort, done });
      void done.finally(() => running.delete(socket));
    });
  };

  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    serve(socket);
  });
  await listenPrivately(server, path);
  let closed: Promise<void> | null = null;
  return {
    get active() {
      return running.size;
    },
    close: ({ abort = false, graceMs = 500 } = {}) =>
      (closed ??= (async () => {
        closing = true;
        const allClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const turnAway of [...waiting.values()]) turnAway();
        const inFlight = [...running.values()];
        if (abort) for (const request of inFlight) request.abort.abort();
        const answered = Promise.all(inFlight.map((request) => request.done));
        if (abort) await Promise.race([answered, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
        else await answered;
        // Turned-away clients read their answer and hang up; one that does not is cut off.
        await Promise.race([allClosed, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
        for (const socket of sockets) socket.destroy();
        await allClosed;
      })()),
  };
}

export interface AskOptions {
  /** Called with each progress message, in order. */
  readonly onProgress?: (value: unknown) => void;
  /** Gives up (and the server aborts the request) when aborted. */
  readonly signal?: AbortSignal;
  /** Gives up after this long. Default: waits as long as the holder works on it. */
  readonly timeoutMs?: number;
}

/** The reply of a request the caller cancelled (`signal`) or that took longer than `timeoutMs`. */
export const CANCELLED = 'Cancelled.';
export const NO_ANSWER = 'The process holding this directory did not answer in time.';
export const HOLDER_STOPPED = 'The process holding this directory stopped before it answered.';

/**
 * Refuses a socket that is not this user's: whoever made it would receive
 * this user's commands (and invites, and joins).
 */
function checkSocketOwner(path: string): void {
  if (process.platform === 'win32') return;
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return; // nothing there: the connection will say so
  }
  const uid = currentUid();
  if (!st.isSocket()) throw new VaultPeersError(`${path} is not a socket. Move it away; Vault Peers creates it when it runs.`);
  if (uid !== null && st.uid !== uid) {
    throw new VaultPeersError(`${path} belongs to another user (uid ${st.uid}); not talking to it. If you did not put it there, someone else did: remove it.`);
  }
}

/**
 * Sends one request to the process holding the state directory.
 * @returns its reply, or null when nothing listens there
 */
export function askRunningPeer<R = unknown>(path: string, request: ControlRequest, options: AskOptions = {}): Promise<ControlReply<R> | null> {
  checkSocketOwner(path);
  return new Promise((resolve) => {
    const socket = createConnection(path);
    let buffer = '';
    /** The server took the connection: from then on a request may have run. */
    let taken = false;
    let settled = false;
    const settle = (reply: ControlReply<R> | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(reply);
    };
    const onAbort = (): void => settle({ ok: false, error: CANCELLED });
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => settle({ ok: false, error: NO_ANSWER }), options.timeoutMs);
    if (options.signal?.aborted) {
      settle({ ok: false, error: CANCELLED });
      return;
    }
    options.signal?.addEventListener('abort', onAbort);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        let message: ServerMessage;
        try {
          message = JSON.parse(line) as ServerMessage;
        } catch {
          settle({ ok: false, error: 'The process holding this directory answered something that is not JSON.' });
          return;
        }
        taken = true;
        if (message.type === 'ready') continue;
        if (message.type === 'progress') options.onProgress?.(message.value);
        else settle(message.ok ? { ok: true, output: message.output as R } : { ok: false, error: message.error, ...(message.busy ? { busy: true } : {}) });
      }
    });
    socket.on('error', () => settle(taken ? { ok: false, error: HOLDER_STOPPED } : null));
    socket.on('close', () => settle(taken ? { ok: false, error: HOLDER_STOPPED } : null));
  });
}
