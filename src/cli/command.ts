/**
 * What a command of the headless peer is: its usage, its arguments, what it
 * needs from the process holding the state, what it does there, and how its
 * result reads. One entry per command, in one place; the result is plain data
 * (JSON), so it keeps its type whether the command ran in this process or in
 * the one holding the state, across the control socket.
 */
import { VaultPeersError } from '../core/errors';
import type { Host } from './host';
import type { Output } from './terminal';

/** What survives JSON unchanged. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json | undefined };

/**
 * What a command needs from the process that holds the state directory:
 * - `state`: any holder; without one, the command holds it itself, offline;
 * - `network`: a holder that is online; without one, the command goes online itself;
 * - `running`: a running `run` (connecting a device from a command that then exits would be pointless);
 * - `daemon`: to be the holder itself, online, for good (`run`).
 */
export type Need = 'state' | 'network' | 'running' | 'daemon';

export interface CommandInput {
  readonly args: readonly string[];
  readonly options: Readonly<Record<string, string | boolean | undefined>>;
}

export interface CommandContext<P extends Json> {
  readonly host: Host;
  /** Aborted when the person (or the client that asked) gives up: Ctrl-C, a closed terminal, shutdown. */
  readonly signal: AbortSignal;
  /** Shows something before the result, such as the invite to scan while waiting for it to be used. */
  readonly progress: (value: P) => void;
}

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
}

export interface Command<R extends Json, P extends Json = never> {
  readonly usage: string;
  readonly summary: string;
  /** Options of this command, beside the common ones. */
  readonly options?: Readonly<Record<string, OptionSpec>>;
  /** Positional arguments: exactly this many, or [min, max]. */
  readonly arity: number | readonly [number, number];
  readonly needs: Need | ((input: CommandInput) => Need);
  /** What the process this command opens should do beyond holding the state (run: which folder to sync). */
  readonly opens?: (input: CommandInput) => { readonly vault?: string };
  /** Checks made before anything is sent or opened, so a typing mistake exits 64 at once. Throws UsageError. */
  check?(input: CommandInput): void;
  run(context: CommandContext<P>, input: CommandInput): Promise<R>;
  /** The result as a person reads it. Text another device chose goes through shownName / shownReason. */
  format(result: R, input: CommandInput, out: Output): string | Promise<string>;
  /** Shows a progress value where the person is (the command's own terminal, even when another process did the work). */
  showProgress?(value: P, out: Output): void | Promise<void>;
  /** The result when the person stopped the command while another process ran it (the client going away cancels it there). */
  readonly cancelled?: R;
  /** 0 unless said otherwise. */
  exitCode?(result: R): number;
}

/** Any entry of the table (its methods take their own result type; TypeScript checks method parameters both ways). */
export type AnyCommand = Command<Json, Json>;

/** Infers a command's result and progress types from its entry. */
export function command<R extends Json, P extends Json = never>(spec: Command<R, P>): Command<R, P> {
  return spec;
}

export function needOf(spec: AnyCommand, input: CommandInput): Need {
  return typeof spec.needs === 'function' ? spec.needs(input) : spec.needs;
}

/** A mistake in how the command was typed. Exit code 64, as sysexits.h has it. */
export class UsageError extends VaultPeersError {}

export function checkArity(name: string, spec: AnyCommand, args: readonly string[]): void {
  const [min, max] = typeof spec.arity === 'number' ? [spec.arity, spec.arity] : spec.arity;
  if (args.length < min || args.length > max) throw new UsageError(`Usage: vault-peers ${spec.usage}`);
}

/** A string option, when given. */
export function stringOption(input: CommandInput, name: string): string | undefined {
  const value = input.options[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * A device by node id, id prefix (4+ characters) or name (any case).
 * @param what plural, for the messages ("paired devices")
 * @param listedBy the command that lists them
 */
export function findDevice<T extends { nodeId: string; name: string }>(items: readonly T[], query: string, what: string, listedBy: string): T {
  const q = query.trim().toLowerCase();
  const exact = items.find((i) => i.nodeId === q);
  if (exact) return exact;
  const matches = items.filter((i) => (q.length >= 4 && i.nodeId.startsWith(q)) || i.name.toLowerCase() === q);
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw new VaultPeersError(`"${query}" matches ${matches.length} ${what}; use more of the node id.`);
  throw new VaultPeersError(`None of the ${what} matches "${query}". \`vault-peers ${listedBy}\` shows them.`);
}
