/** The command line of `vault-peers`: which command, its arguments and options, and the help text, all from the command table. */
import { parseArgs } from 'node:util';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { errorMessage } from '../core/errors';
import { UsageError, checkArity, type AnyCommand, type CommandInput } from './command';
import { COMMANDS, isCommandName, type CommandName } from './commands';
import type { NodeFlags } from './execute';

const COMMON_HELP = `Options for every command:
  --dir DIR            state directory (default: $VAULT_PEERS_DIR or ~/.vault-peers); yours alone, mode 0700
  --device-name NAME   this device's name, shown to the devices it pairs with (stored)
  --relay MODE         default (n0's relays, reach devices across networks) or disabled (direct addresses only); stored setting otherwise
  --bind HOST[:PORT]   where to listen (default 0.0.0.0; without a port, the one stored on first start)
  -h, --help           this help`;

const EXIT_HELP = `Exit codes: 0 done; 1 failed (nothing changed); 3 join: waiting for the other device to accept;
4 join: the other device refused; 64 a mistake in the command line.`;

function mainHelp(): string {
  const lines = Object.values(COMMANDS).map((c: AnyCommand) => `  ${c.usage.padEnd(36)} ${c.summary}`);
  return `Usage: vault-peers <command> [options]\n\nCommands:\n${lines.join('\n')}\n\n${COMMON_HELP}\n\n${EXIT_HELP}\n\nRun \`vault-peers <command> --help\` for one command.`;
}

function commandHelp(name: CommandName): string {
  const spec: AnyCommand = COMMANDS[name];
  return `Usage: vault-peers ${spec.usage}\n\n${spec.summary}\n\n${COMMON_HELP}`;
}

export type Parsed = { readonly help: string } | { readonly name: CommandName; readonly input: CommandInput; readonly flags: NodeFlags };

const BIND = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/;

/** @throws UsageError with what to type instead */
export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Parsed {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') return { help: mainHelp() };
  if (!isCommandName(name)) throw new UsageError(`Unknown command "${name}". Run \`vault-peers --help\` for the list.`);
  const spec: AnyCommand = COMMANDS[name];
  let parsed;
  try {
    parsed = parseArgs({
      args: [...rest],
      allowPositionals: true,
      strict: true,
      options: {
        dir: { type: 'string' },
        'device-name': { type: 'string' },
        relay: { type: 'string' },
        bind: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ...spec.options,
      },
    });
  } catch (error) {
    throw new UsageError(`${errorMessage(error)}. Run \`vault-peers ${name} --help\`.`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return { help: commandHelp(name) };
  const relay = values.relay as string | undefined;
  if (relay !== undefined && relay !== 'default' && relay !== 'disabled') throw new UsageError('--relay must be "default" or "disabled".');
  const bind = values.bind as string | undefined;
  if (bind !== undefined && !BIND.test(bind)) throw new UsageError('--bind must look like 127.0.0.1, 127.0.0.1:4242 or [::]:4242.');
  const deviceName = values['device-name'] as string | undefined;
  const options: Record<string, string | boolean> = {};
  for (const key of Object.keys(spec.options ?? {})) {
    const value = values[key];
    if (value !== undefined) options[key] = value;
  }
  const input: CommandInput = { args: parsed.positionals, options };
  checkArity(name, spec, input.args);
  spec.check?.(input);
  const flags: NodeFlags = {
    dir: (values.dir as string | undefined) ?? env.VAULT_PEERS_DIR ?? join(homedir(), '.vault-peers'),
    ...(deviceName !== undefined ? { deviceName } : {}),
    ...(relay !== undefined ? { relay } : {}),
    ...(bind !== undefined ? { bind } : {}),
  };
  return { name, input, flags };
}
