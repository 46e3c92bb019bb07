/**
 * `vault-peers`: a headless peer for Node, with the same core and wiring as
 * the plugin and a JSON state file of data.json's shape. See commands.ts for
 * what each command does.
 */
import { VaultPeersError, errorMessage } from '../core/errors';
import { safeRemoteText } from '../core/remote-text';
import { UsageError, type AnyCommand, type Json } from './command';
import { COMMANDS } from './commands';
import { parseCommandLine } from './args';
import { CancelledError, execute } from './execute';
import { STDIO, type Output } from './terminal';

/** Exit code of a command the person stopped (128 + SIGINT). */
const EXIT_CANCELLED = 130;

/** The first line of an error, safe for a terminal (it may quote another device or a path). */
function errorLine(error: unknown): string {
  const message = error instanceof VaultPeersError ? error.message : `Unexpected error: ${errorMessage(error)}`;
  return safeRemoteText(message.split('\n')[0], 2_000);
}

/**
 * Runs one command line. SIGINT and SIGTERM end it: a second one ends the process at once.
 * @returns the process exit code
 */
export async function main(argv: string[], out: Output = STDIO): Promise<number> {
  const stop = new AbortController();
  const onSignal = (): void => {
    if (stop.signal.aborted) process.exit(EXIT_CANCELLED);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const parsed = parseCommandLine(argv);
    if ('help' in parsed) {
      out.line(parsed.help);
      return 0;
    }
    const spec: AnyCommand = COMMANDS[parsed.name];
    let result: Json;
    try {
      result = await execute(parsed.name, parsed.input, parsed.flags, out, stop.signal);
    } catch (error) {
      // Stopped while another process did the work: what that means for this command (an invite: cancelled there too).
      if (!(error instanceof CancelledError) || spec.cancelled === undefined) throw error;
      result = spec.cancelled;
    }
    const text = await spec.format(result, parsed.input, out);
    if (text) out.line(text);
    return spec.exitCode?.(result) ?? 0;
  } catch (error) {
    out.error(`vault-peers: ${errorLine(error)}`);
    if (error instanceof CancelledError) return EXIT_CANCELLED;
    return error instanceof UsageError ? 64 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    () => process.exit(1),
  );
}
