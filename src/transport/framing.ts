/**
 * Length-prefixed framing, shared by the control stream and the sub-protocol
 * streams, and the byte conversions the iroh binding needs. Pure code: no
 * iroh, no I/O, so hostile input can be fed to it directly in specs.
 *
 * @number0/iroh 1.1.0 takes and returns bytes only as `Array<number>`. The
 * conversions here are the fastest measured on this machine: a plain loop
 * into `new Array(n)` to hand bytes over, `Uint8Array.from` to take them
 * back. `Array.from(buffer)` is several times slower and is not used.
 */

/** A frame announced larger than the reader's limit: refused before its body is buffered. */
export class FrameTooLargeError extends Error {
  constructor(
    readonly length: number,
    readonly limit: number,
  ) {
    super(`a frame of ${length} bytes was announced (at most ${limit})`);
    this.name = 'FrameTooLargeError';
  }
}

const LENGTH_BYTES = 4;

/**
 * Splits a byte stream into frames of `u32 BE length | payload`. Received
 * chunks are kept as a list and copied once, when a whole frame is there,
 * so a large frame arriving in many reads is not re-concatenated per read.
 */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  /** Bytes of `chunks[0]` already consumed. */
  private offset = 0;
  private buffered = 0;

  constructor(private readonly maxFrameBytes: number) {}

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * The next whole frame, or null until more bytes arrive.
   * @throws FrameTooLargeError as soon as an oversized length is seen
   */
  next(): Uint8Array | null {
    if (this.buffered < LENGTH_BYTES) return null;
    const length = this.peekUint32();
    if (length > this.maxFrameBytes) throw new FrameTooLargeError(length, this.maxFrameBytes);
    if (this.buffered < LENGTH_BYTES + length) return null;
    this.skip(LENGTH_BYTES);
    return this.take(length);
  }

  /** The next `count` bytes if all are there (for headers), or null. */
  takeBytes(count: number): Uint8Array | null {
    return this.buffered < count ? null : this.take(count);
  }

  /** The byte at `index` ahead, or null if not received yet. */
  peekByte(index: number): number | null {
    if (index >= this.buffered) return null;
    let at = this.offset + index;
    for (const chunk of this.chunks) {
      if (at < chunk.length) return chunk[at]!;
      at -= chunk.length;
    }
    return null;
  }

  /** Bytes received that do not yet make a whole frame. */
  get pending(): number {
    return this.buffered;
  }

  private peekUint32(): number {
    return ((this.peekByte(0)! << 24) | (this.peekByte(1)! << 16) | (this.peekByte(2)! << 8) | this.peekByte(3)!) >>> 0;
  }

  private skip(count: number): void {
    this.take(count);
  }

  /**
   * Removes `count` buffered bytes. When they lie in one chunk: a view of it
   * if they fill most of it, else a copy, so that a small frame kept by the
   * caller does not keep a whole received chunk alive.
   */
  private take(count: number): Uint8Array {
    this.buffered -= count;
    const first = this.chunks[0];
    if (count === 0 || first === undefined) return new Uint8Array(0);
    if (first.length - this.offset >= count) {
      const end = this.offset + count;
      const view = count * 2 >= first.length ? first.subarray(this.offset, end) : first.slice(this.offset, end);
      this.offset = end;
      if (this.offset === first.length) this.dropFirst();
      return view;
    }
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.chunks[0]!;
      const n = Math.min(chunk.length - this.offset, count - filled);
      out.set(chunk.subarray(this.offset, this.offset + n), filled);
      filled += n;
      this.offset += n;
      if (this.offset === chunk.length) this.dropFirst();
    }
    return out;
  }

  private dropFirst(): void {
    this.chunks.shift();
    this.offset = 0;
  }
}

/** `payload` with its length in front, as a Uint8Array. */
export function lengthPrefixed(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(LENGTH_BYTES + payload.length);
  writeLength(frame, payload.length);
  frame.set(payload, LENGTH_BYTES);
  return frame;
}

/** Bytes for the binding. */
export function toBindingBytes(bytes: Uint8Array): number[] {
  const out = new Array<number>(bytes.length);
  for (let i = 0; i < bytes.length; i += 1) out[i] = bytes[i]!;
  return out;
}

/** Bytes from the binding. */
export function fromBindingBytes(bytes: readonly number[]): Uint8Array {
  return Uint8Array.from(bytes);
}

function writeLength(target: Uint8Array, length: number): void {
  target[0] = (length >>> 24) & 0xff;
  target[1] = (length >>> 16) & 0xff;
  target[2] = (length >>> 8) & 0xff;
  target[3] = length & 0xff;
}

/* ---- the header a sub-protocol stream starts with ---- */

/** Bumped if the header's layout ever changes; a stream with another version is reset. */
export const STREAM_HEADER_VERSION = 1;
export const MAX_PROTOCOL_TAG_BYTES = 64;
const PROTOCOL_TAG = /^[a-z0-9][a-z0-9._/-]{0,63}$/;

export function isProtocolTag(protocol: string): boolean {
  return PROTOCOL_TAG.test(protocol);
}

/** `u8 version | u8 tag length | tag (ASCII)`: what the opener of a stream sends first. */
export function encodeStreamHeader(protocol: string): Uint8Array {
  if (!isProtocolTag(protocol)) throw new RangeError(`"${protocol.slice(0, 80)}" is not a stream protocol tag (lower-case letters, digits, . _ / -, at most 64)`);
  const tag = new TextEncoder().encode(protocol);
  const header = new Uint8Array(2 + tag.length);
  header[0] = STREAM_HEADER_VERSION;
  header[1] = tag.length;
  header.set(tag, 2);
  return header;
}

export class StreamHeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamHeaderError';
  }
}

/**
 * The protocol tag at the start of `reader`, consumed; null until the whole
 * header is there.
 * @throws StreamHeaderError for another header version or a malformed tag
 */
export function readStreamHeader(reader: FrameReader): string | null {
  const version = reader.peekByte(0);
  if (version === null) return null;
  if (version !== STREAM_HEADER_VERSION) throw new StreamHeaderError(`the stream header has version ${version}, not ${STREAM_HEADER_VERSION}`);
  const length = reader.peekByte(1);
  if (length === null) return null;
  if (length === 0 || length > MAX_PROTOCOL_TAG_BYTES) throw new StreamHeaderError(`the stream header names a protocol of ${length} bytes`);
  const header = reader.takeBytes(2 + length);
  if (!header) return null;
  const protocol = String.fromCharCode(...header.subarray(2));
  if (!isProtocolTag(protocol)) throw new StreamHeaderError('the stream header names a malformed protocol');
  return protocol;
}
