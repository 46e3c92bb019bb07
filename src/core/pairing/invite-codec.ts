/**
 * The invite codec: a ticket's worth of address, a one-time secret, an expiry
 * and the inviter's name, to and from one short string. Uppercase base32 keeps
 * every character in the QR code's alphanumeric set, which makes the code
 * smaller. Pure code: the transport turns a PeerAddress into its own ticket.
 */
import { fromHex, toHex } from '../bytes';
import { VaultPeersError } from '../errors';
import type { PeerAddress } from '../ports';

export interface InvitePayload {
  readonly address: PeerAddress;
  /** 16 random bytes, hex. */
  readonly secret: string;
  /** Milliseconds since the epoch (stored at one-second resolution). */
  readonly expiresAt: number;
  readonly inviterName: string;
}

export type InvalidInviteReason = 'empty' | 'not-an-invite' | 'damaged' | 'unsupported-version' | 'expired';

export class InvalidInviteError extends VaultPeersError {
  constructor(
    readonly reason: InvalidInviteReason,
    message: string,
  ) {
    super(message);
  }
}

const INVITE_PREFIX = 'VP1';
export const INVITE_LINK_PREFIX = 'obsidian://vault-peers?invite=';
const FORMAT = 1;
const MAX_NAME_BYTES = 60;
const MAX_RELAY_BYTES = 200;
const MAX_ADDRESSES = 8;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/* ---- small pure helpers ---- */

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

function base32Decode(text: string): Uint8Array | null {
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of text) {
    const value = BASE32.indexOf(char);
    if (value < 0) return null;
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    buffer &= (1 << bits) - 1;
  }
  // What is left is padding: fewer than 5 bits, all zero. Anything else means a changed character.
  if (bits >= 5 || buffer !== 0) return null;
  return Uint8Array.from(out);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** At most `max` bytes of UTF-8, cut at a character boundary. */
function utf8Limited(text: string, max: number): Uint8Array {
  let bytes = encoder.encode(text);
  let chars = [...text];
  while (bytes.length > max) {
    chars = chars.slice(0, -1);
    bytes = encoder.encode(chars.join(''));
  }
  return bytes;
}


function parseIpv6(text: string): number[] | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string): number[] | null => {
    if (part === '') return [];
    const groups = part.split(':');
    if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return null;
    return groups.map((g) => parseInt(g, 16));
  };
  const head = parse(halves[0] ?? '');
  const tail = halves.length === 2 ? parse(halves[1] ?? '') : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return groups.flatMap((g) => [g >>> 8, g & 0xff]);
}

function encodeAddress(address: string): number[] | null {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/.exec(address);
  if (v4) {
    const octets = v4.slice(1, 5).map(Number);
    const port = Number(v4[5]);
    if (octets.some((o) => o > 255) || port > 65_535) return null;
    return [4, ...octets, port >>> 8, port & 0xff];
  }
  const v6 = /^\[([0-9a-fA-F:]+)\]:(\d{1,5})$/.exec(address);
  if (v6) {
    const bytes = parseIpv6(v6[1]!);
    const port = Number(v6[2]);
    if (!bytes || port > 65_535) return null;
    return [6, ...bytes, port >>> 8, port & 0xff];
  }
  return null;
}

/* ---- encode / parse ---- */

export function encodeInvite(payload: InvitePayload): string {
  const bytes: number[] = [FORMAT];
  if (/^[0-9a-f]{64}$/.test(payload.address.nodeId)) {
    bytes.push(0x20, ...(fromHex(payload.address.nodeId) ?? []));
  } else {
    const id = utf8Limited(payload.address.nodeId, 64);
    bytes.push(id.length, ...id);
  }
  if (!/^[0-9a-f]{32}$/.test(payload.secret)) throw new RangeError('an invite secret is 16 bytes of hex');
  bytes.push(...(fromHex(payload.secret) ?? []));
  // Rounded down: a joiner may see it expire up to a second early, never late.
  const seconds = Math.floor(payload.expiresAt / 1000);
  bytes.push((seconds >>> 24) & 0xff, (seconds >>> 16) & 0xff, (seconds >>> 8) & 0xff, seconds & 0xff);
  const name = utf8Limited(payload.inviterName, MAX_NAME_BYTES);
  bytes.push(name.length, ...name);
  const relay = utf8Limited(payload.address.relay ?? '', MAX_RELAY_BYTES);
  bytes.push(relay.length, ...relay);
  const addresses = payload.address.addresses.map(encodeAddress).filter((a): a is number[] => a !== null).slice(0, MAX_ADDRESSES);
  bytes.push(addresses.length, ...addresses.flat());
  const body = Uint8Array.from(bytes);
  const crc = crc32(body);
  const whole = Uint8Array.from([...body, (crc >>> 24) & 0xff, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff]);
  return INVITE_PREFIX + base32Encode(whole);
}

export function inviteLink(invite: string): string {
  return INVITE_LINK_PREFIX + invite;
}

/** True when the text looks meant as an invite (so a parse error should be about invites, not tickets). */
export function looksLikeInvite(text: string): boolean {
  const t = text.trim();
  return t.toUpperCase().startsWith(INVITE_PREFIX) || t.startsWith(INVITE_LINK_PREFIX);
}

const damaged = (): InvalidInviteError =>
  new InvalidInviteError('damaged', 'This invite is damaged: part of it was lost or changed when copied. Copy it again, or scan the QR code.');

/**
 * Reads an invite as pasted: whitespace and line breaks anywhere, any case, or
 * as an obsidian:// link. Does not check expiry (see `checkInviteExpiry`).
 */
export function parseInvite(text: string): InvitePayload {
  let compact = text.replace(/\s+/g, '');
  if (compact.startsWith(INVITE_LINK_PREFIX)) compact = decodeURIComponent(compact.slice(INVITE_LINK_PREFIX.length));
  compact = compact.toUpperCase();
  if (compact.length === 0) throw new InvalidInviteError('empty', 'The invite is empty: paste the whole invite shown on the other device.');
  if (!compact.startsWith('VP')) {
    throw new InvalidInviteError('not-an-invite', 'This is not a Vault Peers invite: invites start with "VP1".');
  }
  if (!compact.startsWith(INVITE_PREFIX)) {
    throw new InvalidInviteError('unsupported-version', 'This invite comes from a newer Vault Peers. Update Vault Peers on this device.');
  }
  if (compact.length > 1_000) throw damaged();
  const bytes = base32Decode(compact.slice(INVITE_PREFIX.length));
  if (!bytes || bytes.length < 1 + 1 + 16 + 4 + 3 + 4) throw damaged();
  const body = bytes.subarray(0, bytes.length - 4);
  const stored = bytes.subarray(bytes.length - 4);
  const crc = crc32(body);
  if (stored[0] !== (crc >>> 24) % 256 || stored[1] !== (crc >>> 16) % 256 || stored[2] !== (crc >>> 8) % 256 || stored[3] !== crc % 256) {
    throw damaged();
  }
  let at = 0;
  const take = (n: number): Uint8Array => {
    if (at + n > body.length) throw damaged();
    const slice = body.subarray(at, at + n);
    at += n;
    return slice;
  };
  const byte = (): number => take(1)[0]!;
  if (byte() !== FORMAT) {
    throw new InvalidInviteError('unsupported-version', 'This invite comes from a newer Vault Peers. Update Vault Peers on this device.');
  }
  const idTag = byte();
  let nodeId: string;
  try {
    nodeId = idTag === 0x20 ? toHex(take(32)) : decoder.decode(take(idTag));
  } catch {
    throw damaged();
  }
  if (nodeId.length === 0) throw damaged();
  const secret = toHex(take(16));
  const e = take(4);
  const expiresAt = (((e[0]! << 24) >>> 0) + (e[1]! << 16) + (e[2]! << 8) + e[3]!) * 1000;
  let inviterName: string;
  let relay: string;
  try {
    inviterName = decoder.decode(take(byte()));
    relay = decoder.decode(take(byte()));
  } catch {
    throw damaged();
  }
  if (relay && !/^https?:\/\/\S+$/.test(relay)) throw damaged();
  const count = byte();
  if (count > MAX_ADDRESSES) throw damaged();
  const addresses: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const family = byte();
    if (family === 4) {
      const a = take(6);
      addresses.push(`${a[0]}.${a[1]}.${a[2]}.${a[3]}:${(a[4]! << 8) + a[5]!}`);
    } else if (family === 6) {
      const a = take(18);
      const groups: string[] = [];
      for (let g = 0; g < 16; g += 2) groups.push(((a[g]! << 8) + a[g + 1]!).toString(16));
      addresses.push(`[${groups.join(':')}]:${(a[16]! << 8) + a[17]!}`);
    } else {
      throw damaged();
    }
  }
  if (at !== body.length) throw damaged();
  return { address: { nodeId, addresses, relay: relay || null }, secret, expiresAt, inviterName };
}

/** @throws InvalidInviteError('expired') when `now` is past the invite's expiry */
export function checkInviteExpiry(invite: InvitePayload, now: number): void {
  if (now < invite.expiresAt) return;
  const at = new Date(invite.expiresAt).toISOString().slice(11, 16);
  throw new InvalidInviteError('expired', `This invite expired at ${at} UTC. Ask the other device for a new one.`);
}
