/**
 * Runs a command where the state is: in the process that holds the state
 * directory (asked over its control socket), or, when none does, in this
 * process after taking the directory's lock. Whichever process holds it also
 * serves everyone else's commands until it lets go, so two commands never
 * write the same state directory at once, by whatever path they reached it.
 */
import { VaultPeersError } from '../core/errors';
import type { RelayModeSetting } from '../transport/iroh-transport';
import { checkArity, needOf, type AnyCommand, type CommandInput, type Json, type Need } from './command';
import { COMMANDS, isCommandName, type CommandName, type ResultOf } from './commands';
import { CANCELLED, HolderBusyError, askRunningPeer, serveControl, type ControlRequest, type ControlServer, type RequestContext } from './control-socket';
import { openHost, type Host } from './host';
import { tryLock, type LockOwner, type StateLock } from './lock';
import { openStateDir, type StateDir } from './state-dir';
import { shownReason, type Output } from './terminal';

export interface NodeFlags {
  readonly dir: string;
  readonly deviceName?: string;
  readonly relay?: RelayModeSetting;
  readonly bind?: string;
}

/** From SIGTERM or Ctrl-C to the process ending, at most. */
export const SHUTDOWN_MS = 1_500;
/** How long a command waits for the directory quietly before saying whom it waits for. */
const QUIET_WAIT_MS = 2_000;

/** The person cancelled (Ctrl-C). */
export class CancelledError extends VaultPeersError {
  constructor() {
    super('Cancelled.');
  }
}

/** Only the options the command declares, so a request over the socket cannot smuggle others in. */
function knownOptions(spec: AnyCommand, options: ControlRequest['options']): CommandInput['options'] {
  const known: Record<string, string | boolean> = {};
  for (const [name, option] of Object.entries(spec.options ?? {})) {
    const value = options[name];
    if (typeof value === option.type) known[name] = value as string | boolean;
  }
  return known;
}

/** A request from another process, served by this holder. */
export async function serveRequest(host: Host, request: ControlRequest, context: RequestContext): Promise<Json> {
  if (!isCommandName(request.command)) throw new VaultPeersError(`Unknown command "${shownReason(request.command)}".`);
  const spec: AnyCommand = COMMANDS[request.command];
  const input: CommandInput = { args: request.args, options: knownOptions(spec, request.options) };
  checkArity(request.command, spec, input.args);
  spec.check?.(input);
  const need = needOf(spec, input);
  if (need === 'daemon') throw new VaultPeersError(`A peer is already running for ${host.state.dir} (pid ${process.pid}).`);
  if (need === 'running' && !host.daemon) throw new HolderBusyError(`\`vault-peers ${request.command}\` needs \`vault-peers run\`, and none is running for ${host.state.dir}.`);
  if (need === 'network' && !host.online) throw new HolderBusyError(`\`vault-peers ${request.command}\` needs the network; waiting for the directory.`);
  return spec.run({ host, signal: context.signal, progress: context.progress }, input);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** Like sleep, but does not keep the process alive by itself. */
const deadline = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Shows progress values in order, and lets the result wait until the last one is shown. */
interface ProgressShower {
  readonly show: (value: unknown) => void;
  readonly shown: () => Promise<void>;
}

function progressShower(spec: AnyCommand, out: Output): ProgressShower {
  let chain: Promise<void> = Promise.resolve();
  return {
    show: (value) => {
      chain = chain.then(() => spec.showProgress?.(value as Json, out)).catch((error: unknown) => out.error(`vault-peers: ${String(error)}`));
    },
    shown: () => chain,
  };
}

function describeOwner(owner: LockOwner): string {
  return `\`vault-peers ${shownReason(owner.command)}\` (pid ${owner.pid}${owner.host ? ` on ${shownReason(owner.host)}` : ''})`;
}

/**
 * Runs `name` where the state of `flags.dir` is held, taking it here if nobody does.
 * @throws VaultPeersError with what went wrong; CancelledError when `signal` ended it first
 */
export async function execute<N extends CommandName>(name: N, input: CommandInput, flags: NodeFlags, out: Output, signal: AbortSignal): Promise<ResultOf<N>> {
  const spec: AnyCommand = COMMANDS[name];
  const need = needOf(spec, input);
  const state = await openStateDir(flags.dir);
  const progress = progressShower(spec, out);
  const waitingSince = Date.now();
  let announced = false;
  for (;;) {
    if (need !== 'daemon') {
      const request: ControlRequest = { command: name, args: input.args, options: input.options };
      const reply = await askRunningPeer<ResultOf<N>>(state.socketPath, request, { signal, onProgress: progress.show });
      await progress.shown();
      if (reply?.ok) return reply.output;
      if (reply && reply.error === CANCELLED) throw new CancelledError();
      if (reply && (!reply.busy || need === 'running')) throw new VaultPeersError(reply.error);
    }
    if (signal.aborted) throw new CancelledError();
    if (need === 'running') {
      throw new VaultPeersError(`No peer is running for ${state.dir}. \`vault-peers ${name}\` acts on the live connections of \`vault-peers run\`: start that first.`);
    }
    const lock = await tryLock(state.lockPath, name);
    if (!('busy' in lock)) return (await runHere(spec, need, input, state, lock, flags, out, signal, progress)) as ResultOf<N>;
    if (need === 'daemon' && lock.busy.command === 'run') {
      throw new VaultPeersError(`A peer is already running for ${state.dir}: ${describeOwner(lock.busy)}.`);
    }
    if (!announced && Date.now() - waitingSince > QUIET_WAIT_MS) {
      announced = true;
      out.error(`Waiting for ${describeOwner(lock.busy)} to finish with ${state.dir}... (Ctrl-C gives up)`);
    }
    await sleep(50 + Math.random() * 100);
  }
}

async function runHere(
  spec: AnyCommand,
  need: Need,
  input: CommandInput,
  state: StateDir,
  lock: StateLock,
  flags: NodeFlags,
  out: Output,
  signal: AbortSignal,
  progress: ProgressShower,
): Promise<unknown> {
  const daemon = need === 'daemon';
  const host = await openHost(state, lock, { ...flags, ...spec.opens?.(input), online: need === 'network' || daemon, daemon });
  for (const warning of host.warnings) out.error(`warning: ${shownReason(warning)}`);
  let server: ControlServer | null = null;
  const shutdown = async (): Promise<void> => {
    // Cancels whatever it serves (open invites first), then closes connections and the endpoint.
    await server?.close({ abort: daemon || signal.aborted, graceMs: 300 });
    await host.close();
  };
  try {
    // Another process's request ends when it goes away, or when this process is told to stop.
    server = await serveControl(state.socketPath, (request, context) =>
      serveRequest(host, request, { ...context, signal: AbortSignal.any([context.signal, signal]) }),
    );
    const result: unknown = await spec.run({ host, signal, progress: progress.show }, input);
    await progress.shown();
    return result;
  } finally {
    if (daemon || signal.aborted) {
      await Promise.race([shutdown(), deadline(SHUTDOWN_MS)]);
    } else {
      // Other commands asked this one meanwhile (an invite still waiting, say): it lets go once they are done.
      if (server && server.active > 0) out.error(`Finishing ${server.active} request(s) of other vault-peers commands for ${state.dir}... (Ctrl-C ends them)`);
      await shutdown();
    }
  }
}
