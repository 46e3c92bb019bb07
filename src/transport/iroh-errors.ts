/**
 * Close codes on the wire, and iroh's errors turned into sentences a person
 * can read.
 */
import { PeerRefusedError, VaultPeersError } from '../core/errors';
import { REASON_BUSY, REASON_NO_ANSWER, REASON_REMOVED_BY_PEER } from '../core/messages';
import { safeRemoteText } from '../core/remote-text';
import type { CloseKind } from '../core/ports';

export const CLOSE_NORMAL = 0n;
export const CLOSE_PROTOCOL_ERROR = 1n;
export const CLOSE_INCOMPATIBLE = 2n;
export const CLOSE_REFUSED = 3n;
export const CLOSE_REMOVED = 4n;

export const CLOSE_CODES: Record<CloseKind, bigint> = { normal: CLOSE_NORMAL, refused: CLOSE_REFUSED, removed: CLOSE_REMOVED };

/** This side turned a connection away during the handshake (a protocol error, an incompatible version). */
export class HandshakeRejected extends PeerRefusedError {}

/** Closes that mean "do not dial again until something changes on that device". */
export function refusalError(text: string, code: bigint | null): VaultPeersError {
  return code === CLOSE_REFUSED || code === CLOSE_REMOVED || code === CLOSE_INCOMPATIBLE ? new PeerRefusedError(text) : new VaultPeersError(text);
}

/** iroh's errors carry Rust source paths and backtraces: keep the first sentence. */
export function irohErrorMessage(error: unknown): string {
  const raw = error instanceof Error ? error.message : String(error);
  const first = raw.split('\n')[0] ?? raw;
  return first.replace(/\s*\([^)]*\.rs:\d+:\d+\)/g, '').trim();
}

/** The text a remote close carries, without iroh's "closed by peer: ... (code N)" wrapping. */
export function closeReasonText(reason: string): string {
  return parseClose(reason).text;
}

/** A remote close as iroh reports it: its text and code (null when not closed by the peer). */
export function parseClose(reason: string): { text: string; code: bigint | null } {
  // iroh writes "closed by peer: <reason> (code N)", or just "closed by peer: N" when the reason is empty.
  const match = /^closed by peer: (?:(.*) \(code (\d+)\)|(\d+))$/s.exec(reason);
  if (!match) return { text: reason.trim() || 'The connection was closed.', code: null };
  const code = BigInt(match[2] ?? match[3]!);
  if (code === CLOSE_REMOVED) return { text: REASON_REMOVED_BY_PEER, code };
  return { text: match[1]?.trim() || 'The other device closed the connection.', code };
}

/**
 * A stream that failed because its connection went away, as a sentence:
 * iroh reports it in Rust's debug form, e.g.
 * `ConnectionLost(ApplicationClosed(ApplicationClose { error_code: 3, reason: b"..." }))`.
 * The reason the other device gave is kept (it is its text: shown through
 * safeRemoteText like any). Null when the message is not about a lost connection.
 */
export function lostConnectionText(message: string): string | null {
  if (!/\bConnectionLost\b|\bApplicationClosed\b|\bConnectionClosed\b|\bLocallyClosed\b|\bTimedOut\b/.test(message)) return null;
  const code = /error_code:\s*(\d+)/.exec(message)?.[1];
  if (/\bApplicationClosed\b/.test(message)) {
    if (code !== undefined && BigInt(code) === CLOSE_REMOVED) return REASON_REMOVED_BY_PEER;
    // The other device's words: made safe here, once, before any terminal or view can show them.
    const said = safeRemoteText(rustByteString(/reason: b"((?:[^"\\]|\\.)*)"/s.exec(message)?.[1] ?? ''), 400);
    const refused = code !== undefined && BigInt(code) === CLOSE_REFUSED;
    const what = refused ? 'The other device refused the connection' : 'The other device closed the connection';
    return said ? `${what}: ${said}` : `${what}.`;
  }
  if (/\bLocallyClosed\b/.test(message)) return 'The connection was closed on this device.';
  if (/\bTimedOut\b/.test(message)) return 'The other device stopped answering.';
  return 'The connection to the other device was lost.';
}

/** The text of a Rust byte string literal's body (`\xNN`, `\n`, `\"`... escapes), decoded as UTF-8. */
function rustByteString(body: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < body.length; i += 1) {
    const c = body[i]!;
    if (c !== '\\') {
      bytes.push(...new TextEncoder().encode(c));
      continue;
    }
    const next = body[i + 1];
    i += 1;
    if (next === 'x') {
      bytes.push(Number.parseInt(body.slice(i + 1, i + 3), 16) || 0);
      i += 2;
    } else {
      bytes.push(({ n: 10, r: 13, t: 9, '0': 0 } as Record<string, number>)[next ?? ''] ?? (next ?? '').charCodeAt(0));
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** A failed dial, worded for the person who asked for it. */
export function dialError(error: unknown): VaultPeersError {
  // The cause is in the "Caused by:" lines, before the backtrace.
  const causes = (error instanceof Error ? error.message : String(error)).split('Stack backtrace')[0] ?? '';
  if (/timed out/i.test(causes)) return new VaultPeersError(REASON_NO_ANSWER);
  if (/refused to accept/i.test(causes)) return new VaultPeersError(REASON_BUSY);
  return new VaultPeersError(`Could not reach the device: ${irohErrorMessage(error)}`);
}
