import fc from 'fast-check';
import {
  FrameReader,
  FrameTooLargeError,
  StreamHeaderError,
  encodeStreamHeader,
  fromBindingBytes,
  lengthPrefixed,
  readStreamHeader,
  toBindingBytes,
} from '../../src/transport/framing';

/** Splits `bytes` at the given cut points (sorted, deduplicated). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const at of [...points, bytes.length]) {
    pieces.push(bytes.subarray(from, at));
    from = at;
  }
  return pieces;
}

describe('FrameReader', () => {
  it('returns the frames written, however the bytes are cut into chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 20 }), (frames, cuts) => {
        const bytes = Uint8Array.from(frames.flatMap((frame) => [...lengthPrefixed(frame)]));
        const reader = new FrameReader(1_000);
        const out: Uint8Array[] = [];
        for (const piece of split(bytes, cuts)) {
          reader.push(piece);
          for (let frame = reader.next(); frame; frame = reader.next()) out.push(Uint8Array.from(frame));
        }
        expect(out).toEqual(frames.map((f) => Uint8Array.from(f)));
        expect(reader.pending).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a frame announced over the limit as soon as its length is read, before its body', () => {
    const reader = new FrameReader(1024);
    reader.push(Uint8Array.of(0, 0));
    expect(reader.next()).toBeNull();
    reader.push(Uint8Array.of(4, 1)); // 1025
    expect(() => reader.next()).toThrow(FrameTooLargeError);
    expect(() => reader.next()).toThrow('a frame of 1025 bytes was announced (at most 1024)');
  });

  it('accepts a frame of exactly the limit, and an empty frame', () => {
    const reader = new FrameReader(8);
    reader.push(lengthPrefixed(new Uint8Array(8).fill(7)));
    reader.push(lengthPrefixed(new Uint8Array(0)));
    expect(reader.next()).toEqual(new Uint8Array(8).fill(7));
    expect(reader.next()).toEqual(new Uint8Array(0));
    expect(reader.next()).toBeNull();
  });

  it('copies nothing for a frame that fills its chunk, and copies a small one so it does not keep the chunk alive', () => {
    const big = lengthPrefixed(new Uint8Array(100).fill(5));
    const reader = new FrameReader(1_000);
    reader.push(big);
    expect(reader.next()!.buffer).toBe(big.buffer);
    const small = Uint8Array.from([...lengthPrefixed(Uint8Array.of(1)), ...lengthPrefixed(new Uint8Array(50))]);
    reader.push(small);
    const frame = reader.next()!;
    expect(frame).toEqual(Uint8Array.of(1));
    expect(frame.buffer).not.toBe(small.buffer);
    expect(frame.buffer.byteLength).toBe(1);
  });
});

describe('the stream header', () => {
  it('names the protocol: version, length, tag', () => {
    expect([...encodeStreamHeader('sync/1')]).toEqual([1, 6, ...Buffer.from('sync/1')]);
    const reader = new FrameReader(10);
    const header = encodeStreamHeader('blob/1');
    reader.push(header.subarray(0, 3));
    expect(readStreamHeader(reader)).toBeNull();
    reader.push(header.subarray(3));
    reader.push(lengthPrefixed(Uint8Array.of(9)));
    expect(readStreamHeader(reader)).toBe('blob/1');
    expect(reader.next()).toEqual(Uint8Array.of(9));
  });

  it.each([
    ['another header version', [2, 1, 97]],
    ['an empty tag', [1, 0]],
    ['a tag over 64 bytes', [1, 65]],
    ['a tag with upper case', [1, 4, ...Buffer.from('Sync')]],
    ['a tag with control characters', [1, 3, 0x61, 0x1b, 0x62]],
  ])('refuses a header with %s', (_label, bytes) => {
    const reader = new FrameReader(10);
    reader.push(Uint8Array.from(bytes));
    expect(() => readStreamHeader(reader)).toThrow(StreamHeaderError);
  });

  it('refuses to write a malformed tag', () => {
    expect(() => encodeStreamHeader('')).toThrow(RangeError);
    expect(() => encodeStreamHeader('x'.repeat(65))).toThrow(RangeError);
    expect(() => encodeStreamHeader('../etc')).toThrow(RangeError);
  });
});

describe('bytes across the binding', () => {
  it('round-trip, as plain arrays of numbers', () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37) % 256);
    const crossing = toBindingBytes(bytes);
    expect(Array.isArray(crossing)).toBe(true);
    expect(fromBindingBytes(crossing)).toEqual(bytes);
    expect([...lengthPrefixed(bytes).subarray(0, 4)]).toEqual([0, 0, 3, 232]);
  });
});
