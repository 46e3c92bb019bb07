/**
 * Every command of `vault-peers`, in one typed table. The order is the order
 * of the help text.
 */
import type { AnyCommand, Command, Json } from './command';
import { accept, block, ignore, invite, join, pending, policy, unblock } from './commands-pairing';
import { connect, disconnect, list, remove, rename } from './commands-peers';
import { settings } from './commands-settings';
import { conflicts, resolve, status } from './commands-sync';
import { run } from './run';

export const COMMANDS = {
  invite,
  join,
  list,
  connect,
  disconnect,
  rename,
  remove,
  pending,
  accept,
  ignore,
  block,
  unblock,
  policy,
  settings,
  run,
  status,
  conflicts,
  resolve,
} as const satisfies Record<string, AnyCommand>;

export type CommandName = keyof typeof COMMANDS;

/** The result of a command, the same type whichever process ran it. */
export type ResultOf<N extends CommandName> = (typeof COMMANDS)[N] extends Command<infer R, Json> ? R : never;

export function isCommandName(name: string): name is CommandName {
  return Object.prototype.hasOwnProperty.call(COMMANDS, name);
}
