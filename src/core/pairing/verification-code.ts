const encoder = new TextEncoder();

/**
 * A short code both devices show after pairing, so a person can check they
 * paired with each other: six digits from SHA-256 over both node ids, in an
 * order both sides agree on.
 */
export async function verificationCode(nodeIdA: string, nodeIdB: string): Promise<string> {
  const [first, second] = [nodeIdA, nodeIdB].sort();
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', encoder.encode(`vault-peers/verify/${first}/${second}`)));
  const number = ((digest[0]! << 24) >>> 0) + (digest[1]! << 16) + (digest[2]! << 8) + digest[3]!;
  const digits = String(number % 1_000_000).padStart(6, '0');
  return `${digits.slice(0, 3)} ${digits.slice(3)}`;
}
