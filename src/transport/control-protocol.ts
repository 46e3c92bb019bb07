/**
 * The control stream every Vault Peers connection carries: length-prefixed
 * JSON frames. Pure code: no iroh, no I/O, so hostile input can be fed to it
 * directly in specs.
 *
 * Protocol 2: the dialler speaks first (`hello`, with the invite secret when
 * pairing). The acceptor says nothing about itself until its host accepts the
 * dialler; then it answers `welcome`, carrying its own name and addresses.
 * After that both sides send `ping`s, and a `probe` when the other side has
 * been quiet too long, which is answered at once with a `ping`.
 */
import { FrameReader, FrameTooLargeError, lengthPrefixed } from './framing';

export const PROTOCOL_VERSION = 2;
/** The ALPN names the wire format; the hello names the protocol version inside it. */
export const ALPN = 'vault-peers/1';
export const MAX_FRAME_BYTES = 16 * 1024;
const MAX_ADDRESSES = 16;
const MAX_NAME = 100;

/** What each side tells the other about itself. */
export interface PeerInfo {
  readonly version: number;
  readonly name: string;
  /** A random id the sender picks at each start: tells a restart from a duplicate. */
  readonly instance: string;
  /** Where the sender can be reached now (ip:port). */
  readonly addresses: readonly string[];
  readonly relay: string | null;
}

/** The dialler's first message. */
export interface Hello extends PeerInfo {
  readonly type: 'hello';
  /** The invite secret, when the sender dials to pair with an invite. */
  readonly invite?: string;
}

/** The acceptor's answer once its host accepted the dialler, with what the dialler may now know. */
export interface Welcome extends PeerInfo {
  readonly type: 'welcome';
}

export interface Heartbeat {
  readonly type: 'ping';
}

/** "Are you there?": answered at once with a ping. */
export interface Probe {
  readonly type: 'probe';
}

export type ControlMessage = Hello | Welcome | Heartbeat | Probe;

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export function encodeFrame(message: ControlMessage): Uint8Array {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  if (body.length > MAX_FRAME_BYTES) throw new ProtocolError(`control message of ${body.length} bytes is too large`);
  return lengthPrefixed(body);
}

/** Splits the control stream into JSON messages; refuses oversized ones before buffering them. */
export class FrameDecoder {
  private readonly reader = new FrameReader(MAX_FRAME_BYTES);

  push(chunk: Uint8Array | readonly number[]): unknown[] {
    this.reader.push(chunk instanceof Uint8Array ? chunk : Uint8Array.from(chunk));
    const messages: unknown[] = [];
    for (;;) {
      let frame: Uint8Array | null;
      try {
        frame = this.reader.next();
      } catch (error) {
        if (error instanceof FrameTooLargeError) {
          throw new ProtocolError(`the other device sent a control message of ${error.length} bytes (at most ${MAX_FRAME_BYTES})`);
        }
        throw error;
      }
      if (!frame) return messages;
      try {
        messages.push(JSON.parse(Buffer.from(frame.buffer, frame.byteOffset, frame.length).toString('utf8')));
      } catch {
        throw new ProtocolError('the other device sent a control message that is not JSON');
      }
    }
  }

  /** Bytes received that do not yet make a whole frame. */
  get pending(): number {
    return this.reader.pending;
  }
}

const ADDRESS = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):\d{1,5}$/;
const INVITE_SECRET = /^[0-9a-f]{32}$/;

/**
 * The protocol version a hello or welcome claims, read before anything else
 * in it so that a peer of another version gets the incompatible-version
 * answer even if the rest of its message has another shape.
 */
export function claimedVersion(value: unknown): number | null {
  if (typeof value !== 'object' || value === null) return null;
  const version = (value as { version?: unknown }).version;
  return typeof version === 'number' && Number.isInteger(version) && version >= 1 ? version : null;
}

/** The invite secret a hello presents, if well-formed; read leniently for the host's gate. */
export function presentedInvite(value: unknown): string | undefined {
  const invite = typeof value === 'object' && value !== null ? (value as { invite?: unknown }).invite : undefined;
  return typeof invite === 'string' && INVITE_SECRET.test(invite) ? invite : undefined;
}

/** A control message as received, checked field by field. */
export function parseControlMessage(value: unknown): ControlMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('the other device sent a control message that is not an object');
  }
  const message = value as Record<string, unknown>;
  if (message.type === 'ping') return { type: 'ping' };
  if (message.type === 'probe') return { type: 'probe' };
  if (message.type === 'welcome') return { type: 'welcome', ...parsePeerInfo(message, 'welcome') };
  if (message.type !== 'hello') throw new ProtocolError(`the other device sent an unknown control message (${String(message.type).slice(0, 20)})`);
  const { invite } = message;
  if (invite !== undefined && (typeof invite !== 'string' || !INVITE_SECRET.test(invite))) {
    throw new ProtocolError('the other device sent a hello with a malformed invite');
  }
  return { type: 'hello', ...parsePeerInfo(message, 'hello'), ...(invite !== undefined ? { invite } : {}) };
}

function parsePeerInfo(message: Record<string, unknown>, kind: string): PeerInfo {
  const { version, name, instance, addresses, relay } = message;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new ProtocolError(`the other device sent a ${kind} without a protocol version`);
  }
  if (typeof name !== 'string' || name.length > MAX_NAME) throw new ProtocolError(`the other device sent a ${kind} with a bad name`);
  if (typeof instance !== 'string' || instance.length < 1 || instance.length > 64) {
    throw new ProtocolError(`the other device sent a ${kind} without an instance id`);
  }
  if (!Array.isArray(addresses) || addresses.length > MAX_ADDRESSES || !addresses.every((a) => typeof a === 'string' && ADDRESS.test(a))) {
    throw new ProtocolError(`the other device sent a ${kind} with bad addresses`);
  }
  if (relay !== null && relay !== undefined && (typeof relay !== 'string' || relay.length > 512 || !/^https?:\/\//.test(relay))) {
    throw new ProtocolError(`the other device sent a ${kind} with a bad relay address`);
  }
  return { version, name, instance, addresses: addresses as string[], relay: (relay as string | undefined) ?? null };
}

export function incompatibleVersionMessage(ours: number, theirs: number): string {
  const update = theirs > ours ? 'this device' : 'the other device';
  return `Incompatible Vault Peers versions: this device speaks protocol ${ours}, the other ${theirs}. Update Vault Peers on ${update}.`;
}
