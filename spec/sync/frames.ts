import { deflateSync } from 'fflate';

/** Frames built by hand for specs of what a hostile peer can send. */

/** A compressed WANT_DOCS frame with `count` wants (built by hand: the encoder would take long), each 18 bytes. */
export function manyWants(count: number): Uint8Array {
  const varuint = (n: number): number[] => [0x80 | (n & 0x7f), 0x80 | ((n >> 7) & 0x7f), n >> 14];
  const payload = new Uint8Array(3 + count * 18);
  payload.set(varuint(count));
  for (let i = 0; i < count; i += 1) payload[3 + i * 18 + 16] = 1;
  return new Uint8Array([4 | 0x80, ...varuint(payload.length), ...deflateSync(payload)]);
}
