const HEX_PAIRS = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/**
 * Bytes as lowercase hex: secrets, hashes and keys, the one spelling used everywhere.
 * Built with one join, so the string is flat: a `+=` loop leaves a rope of 32 pieces
 * per hash, and 10,000 kept hashes cost megabytes more (measured by bench:sync).
 */
export function toHex(bytes: Uint8Array): string {
  const pairs = new Array<string>(bytes.length);
  for (let i = 0; i < bytes.length; i += 1) pairs[i] = HEX_PAIRS[bytes[i]!]!;
  return pairs.join('');
}

/** The bytes of a hex string of even length, or null when it is not one. */
export function fromHex(text: string): Uint8Array | null {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return null;
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}
