/**
 * The control stream every Vault Peers connection carries: length-prefixed
 * JSON frames. First a hello each way, then heartbeats. Pure code: no iroh,
 * no I/O, so hostile input can be fed to it directly in specs.
 */

export const PROTOCOL_VERSION = 1;
/** The ALPN names the wire format; the hello names the protocol version inside it. */
export const ALPN = 'vault-peers/1';
export const MAX_FRAME_BYTES = 16 * 1024;
const MAX_ADDRESSES = 16;
const MAX_NAME = 100;

export interface Hello {
  readonly type: 'hello';
  readonly version: number;
  readonly name: string;
  /** A random id the sender picks at each start: tells a restart from a duplicate. */
  readonly instance: string;
  /** Where the sender can be reached now (ip:port). */
  readonly addresses: readonly string[];
  readonly relay: string | null;
  /** The invite secret, when the sender dials to pair with an invite. */
  readonly invite?: string;
}

export interface Heartbeat {
  readonly type: 'ping';
}

/** The acceptor's answer that the dialling device was accepted. */
export interface Welcome {
  readonly type: 'welcome';
}

export type ControlMessage = Hello | Heartbeat | Welcome;

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export function encodeFrame(message: ControlMessage): Uint8Array {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  if (body.length > MAX_FRAME_BYTES) throw new ProtocolError(`control message of ${body.length} bytes is too large`);
  const frame = Buffer.alloc(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/** Splits a byte stream into frames; refuses oversized ones before buffering them. */
export class FrameDecoder {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array | readonly number[]): unknown[] {
    this.buffer = Buffer.concat([this.buffer, Buffer.from(chunk as Uint8Array)]);
    const messages: unknown[] = [];
    while (this.buffer.length >= 4) {
      const length = this.buffer.readUInt32BE(0);
      if (length > MAX_FRAME_BYTES) {
        throw new ProtocolError(`the other device sent a control message of ${length} bytes (at most ${MAX_FRAME_BYTES})`);
      }
      if (this.buffer.length < 4 + length) break;
      const body = this.buffer.subarray(4, 4 + length).toString('utf8');
      this.buffer = this.buffer.subarray(4 + length);
      try {
        messages.push(JSON.parse(body));
      } catch {
        throw new ProtocolError('the other device sent a control message that is not JSON');
      }
    }
    return messages;
  }

  /** Bytes received that do not yet make a whole frame. */
  get pending(): number {
    return this.buffer.length;
  }
}

const ADDRESS = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):\d{1,5}$/;

/** A control message as received, checked field by field. */
export function parseControlMessage(value: unknown): ControlMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('the other device sent a control message that is not an object');
  }
  const message = value as Record<string, unknown>;
  if (message.type === 'ping') return { type: 'ping' };
  if (message.type === 'welcome') return { type: 'welcome' };
  if (message.type !== 'hello') throw new ProtocolError(`the other device sent an unknown control message (${String(message.type).slice(0, 20)})`);
  const { version, name, instance, addresses, relay, invite } = message;
  if (invite !== undefined && (typeof invite !== 'string' || !/^[0-9a-f]{32}$/.test(invite))) {
    throw new ProtocolError('the other device sent a hello with a malformed invite');
  }
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new ProtocolError('the other device sent a hello without a protocol version');
  }
  if (typeof name !== 'string' || name.length > MAX_NAME) throw new ProtocolError('the other device sent a hello with a bad name');
  if (typeof instance !== 'string' || instance.length < 1 || instance.length > 64) {
    throw new ProtocolError('the other device sent a hello without an instance id');
  }
  if (!Array.isArray(addresses) || addresses.length > MAX_ADDRESSES || !addresses.every((a) => typeof a === 'string' && ADDRESS.test(a))) {
    throw new ProtocolError('the other device sent a hello with bad addresses');
  }
  if (relay !== null && relay !== undefined && (typeof relay !== 'string' || relay.length > 512 || !/^https?:\/\//.test(relay))) {
    throw new ProtocolError('the other device sent a hello with a bad relay address');
  }
  return {
    type: 'hello',
    version,
    name,
    instance,
    addresses: addresses as string[],
    relay: (relay as string | undefined) ?? null,
    ...(invite !== undefined ? { invite } : {}),
  };
}

export function incompatibleVersionMessage(ours: number, theirs: number): string {
  const newer = theirs > ours ? 'the other device' : 'this device';
  return `Incompatible Vault Peers versions: this device speaks protocol ${ours}, the other ${theirs}. Update Vault Peers on ${newer === 'this device' ? 'the other device' : 'this device'}.`;
}
