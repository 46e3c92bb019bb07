/**
 * The control stream's handshake. The dialler opens it and speaks first; the
 * acceptor reads that hello and says nothing until its host has decided (see
 * iroh-transport.ts), so a device that may not connect learns nothing about
 * this one but the refusal.
 */
import type * as Iroh from '@number0/iroh/index.js';
import { VaultPeersError } from '../core/errors';
import { REASON_NOT_ACCEPTED_IN_TIME } from '../core/messages';
import {
  FrameDecoder,
  ProtocolError,
  claimedVersion,
  encodeFrame,
  incompatibleVersionMessage,
  parseControlMessage,
  type Hello,
  type Welcome,
} from './control-protocol';
import { withDeadline } from './deadline';
import { CLOSE_INCOMPATIBLE, HandshakeRejected } from './iroh-errors';
import { textBytes } from './iroh-module';
import { toBindingBytes } from './framing';

/** What a handshake leaves for the connection: its control stream, and frames read past the first message. */
export interface ControlStream {
  readonly stream: Iroh.BiStream;
  readonly decoder: FrameDecoder;
  readonly rest: readonly unknown[];
}

/** Reads up to the first control message; later frames that came in the same chunks are kept in `rest`. */
async function firstMessage(recv: Iroh.RecvStream, decoder: FrameDecoder, within: <U>(step: Promise<U>) => Promise<U>): Promise<{ first: unknown; rest: unknown[] }> {
  for (;;) {
    const chunk = await within(recv.read(4_096));
    if (chunk.length === 0) throw new ProtocolError('the other device closed the control stream before the handshake was done');
    const [first, ...rest] = decoder.push(chunk);
    if (first !== undefined) return { first, rest };
  }
}

/** Heartbeats go ahead of bulk data queued on other streams of the connection. */
const CONTROL_PRIORITY = 1;

export function writeControl(send: Iroh.SendStream, message: Parameters<typeof encodeFrame>[0]): Promise<void> {
  return send.writeAll(toBindingBytes(encodeFrame(message)));
}

/**
 * Dialler: opens the control stream, sends `hello` and waits for the
 * acceptor's `welcome`. A close before the welcome is the acceptor's refusal
 * and surfaces as the connection's close (the caller reads `closeReason()`).
 */
export function dialHandshake(raw: Iroh.Connection, hello: Hello, timeoutMs: number): Promise<ControlStream & { welcome: Welcome }> {
  return withDeadline(
    timeoutMs,
    () => new VaultPeersError(REASON_NOT_ACCEPTED_IN_TIME),
    async (within) => {
      const stream = await within(raw.openBi());
      stream.send.setPriority(CONTROL_PRIORITY).catch(() => undefined);
      await within(writeControl(stream.send, hello));
      const decoder = new FrameDecoder();
      const { first, rest } = await firstMessage(stream.recv, decoder, within);
      const version = claimedVersion(first);
      if (version !== null && version !== hello.version) {
        // An acceptor of another protocol (version 1 sends its own hello first): say which device to update.
        raw.close(CLOSE_INCOMPATIBLE, textBytes(incompatibleVersionMessage(version, hello.version)));
        throw new HandshakeRejected(incompatibleVersionMessage(hello.version, version));
      }
      const message = parseControlMessage(first);
      if (message.type !== 'welcome') throw new ProtocolError('the other device did not answer with a welcome');
      return { stream, decoder, rest, welcome: message };
    },
  );
}

/** Acceptor: accepts the control stream and reads the dialler's first message, as received (checked by the caller). */
export function acceptHello(raw: Iroh.Connection, timeoutMs: number): Promise<ControlStream & { hello: unknown }> {
  return withDeadline(
    timeoutMs,
    () => new ProtocolError('the other device did not say hello in time'),
    async (within) => {
      const stream = await within(raw.acceptBi());
      stream.send.setPriority(CONTROL_PRIORITY).catch(() => undefined);
      const decoder = new FrameDecoder();
      const { first, rest } = await firstMessage(stream.recv, decoder, within);
      return { stream, decoder, rest, hello: first };
    },
  );
}
