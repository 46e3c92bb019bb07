/**
 * How the headless peer writes for a person: local time with its zone, other
 * devices' text made safe, and no escape codes where the output is not a
 * terminal (a file, a pipe, a log).
 */
import QRCode from 'qrcode';
import { shownName } from '../app/display';
import { shortId } from '../core/model';
import { isSafeRemoteText } from '../core/remote-text';

export { shownName, shownReason } from '../app/display';

/** `Desktop (1a2b3c4d)`: a device as lines name it, its name made safe. */
export function shownDevice(device: { readonly nodeId: string; readonly name: string }): string {
  return `${shownName(device.name, device.nodeId)} (${shortId(device.nodeId)})`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** `14:03:27+01:00`: the local time of day with the zone's offset, so a log read elsewhere is not ambiguous. */
export function clock(date = new Date()): string {
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const zone = `${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}${zone}`;
}

/** `2026-11-25 14:03+01:00`: a moment in local time, for dates stored in UTC. */
export function localDateTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso.replace(/[^\w:.+-]/g, '');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${clock(date).slice(0, 5)}${clock(date).slice(8)}`;
}

/** `512 B`, `12.3 KB`, `4.5 MB`, `1.2 GB` (powers of 1,000, as file managers show sizes). */
export function sizeText(bytes: number): string {
  if (bytes < 1_000) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1_000;
  let unit = 0;
  while (value >= 999.95 && unit < units.length - 1) {
    value /= 1_000;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** `3 files`, `1 file`. */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? noun : plural}`;
}

/**
 * JSON for `--json`: every value kept exactly (a script reading it gets the
 * real names), with the characters a terminal would act on written as \u
 * escapes. JSON.stringify escapes only C0 controls; DEL, C1 and bidi controls
 * it leaves raw, and safeRemoteText's rule says which those are.
 */
export function jsonForTerminal(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[^\n\u0020-\u007e]/gu, (char) =>
    isSafeRemoteText(char) ? char : `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A QR code of `text`: coloured with escape codes on a terminal, plain block characters anywhere else. */
export function qrCode(text: string, terminal: boolean): Promise<string> {
  return terminal ? QRCode.toString(text, { type: 'terminal', small: true }) : QRCode.toString(text, { type: 'utf8' });
}

export interface Output {
  /** Whether the output is a terminal (escape codes allowed). */
  readonly terminal: boolean;
  line(text: string): void;
  error(text: string): void;
}

export const STDIO: Output = {
  terminal: process.stdout.isTTY === true,
  line: (text) => void process.stdout.write(`${text}\n`),
  error: (text) => void process.stderr.write(`${text}\n`),
};
