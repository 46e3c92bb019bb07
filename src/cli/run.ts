/** `run`: the long-lived peer. It holds the state directory, stays online and prints one line per change. */
import type { PeerManager } from '../core/peer-manager';
import type { RefusalReport } from '../transport/iroh-transport';
import { shortId, type PeerState } from '../core/model';
import { VaultPeersError } from '../core/errors';
import { UsageError, command, stringOption } from './command';
import type { Host } from './host';
import { watchSync } from './sync-lines';
import { clock, shownDevice, shownName, shownReason } from './terminal';

/** A line for the log, or a problem for stderr. */
export type RunLine = { readonly text: string; readonly problem?: boolean };

function statusLine(state: PeerState, status: string): string {
  const why = status === 'disconnected' && state.lastError ? ` (${shownReason(state.lastError)})` : '';
  return `${clock()} ${shownDevice(state.peer)} ${status}${why}`;
}

/**
 * One line per status change of any peer, and one when a peer is removed.
 * A peer's first `disconnected` is not news: at start-up every known peer is
 * disconnected an instant before it is dialled, and a device paired while
 * running is stored an instant before it connects; its first line is the
 * `connecting` or `connected` one.
 * `syncing` is `connected` here: each sync says when it is done in a line of
 * its own (see sync-lines.ts), so a live edit is one line, not three.
 */
export function watchStatuses(manager: PeerManager, print: (line: string) => void): () => void {
  const last = new Map<string, string>();
  return manager.onPeerStateChange((states) => {
    const seen = new Set<string>();
    for (const state of states) {
      const nodeId = state.peer.nodeId;
      seen.add(nodeId);
      const previous = last.get(nodeId);
      const status = state.status === 'syncing' ? 'connected' : state.status;
      if (previous === status) continue;
      if (previous === undefined && status === 'disconnected') continue;
      last.set(nodeId, status);
      print(statusLine(state, status));
    }
    for (const nodeId of [...last.keys()]) {
      if (!seen.has(nodeId)) {
        last.delete(nodeId);
        print(`${clock()} ${shortId(nodeId)} removed`);
      }
    }
  });
}

function refusalLine(report: RefusalReport): string {
  if (report.type === 'refused') {
    const { nodeId, reason } = report.refusal;
    return `refused ${nodeId === null ? 'a device before its handshake' : shortId(nodeId)}: ${shownReason(reason)}`;
  }
  const more = report.refused - report.shown;
  const minutes = Math.max(1, Math.round(report.windowMs / 60_000));
  return `refused ${more} more connection attempt${more === 1 ? '' : 's'} from unknown devices in the last ${minutes === 1 ? 'minute' : `${minutes} minutes`}`;
}

/** What `run` says about the folder it syncs, or that it syncs none. */
export function vaultLine(host: Host): string {
  if (host.sync) {
    const instead = host.previousVault ? ` Until now ${host.previousVault} was synced; its sync state is kept.` : '';
    return `Syncing ${host.sync.vault.path} with every paired device (sync state in ${host.sync.stateDir}).${instead}`;
  }
  return 'No vault is set, so nothing is synced. `vault-peers run --vault DIR` keeps DIR in sync with every paired device.';
}

export const run = command<null, RunLine>({
  usage: 'run [--vault DIR]',
  summary: 'Stay online: keep the vault (--vault, stored for next time) in sync with paired devices, redial with backoff, print each change until Ctrl-C or SIGTERM.',
  options: { vault: { type: 'string' } },
  arity: 0,
  needs: 'daemon',
  check: (input) => {
    if (input.options.vault === '') throw new UsageError('--vault needs a folder: vault-peers run --vault ~/Notes');
  },
  opens: (input) => {
    const vault = stringOption(input, 'vault');
    return vault === undefined ? {} : { vault };
  },
  run: async ({ host, signal, progress }) => {
    const { manager } = host.node;
    const endpoint = host.node.endpoint!;
    const say = (text: string): void => progress({ text });
    say(`${shownName(host.deviceName)} (${endpoint.nodeId}) is online on ${endpoint.boundSockets.join(', ')}.`);
    if (endpoint.usedFallbackPort) say('The stored port was taken; another one is used this time.');
    say(vaultLine(host));
    say(`ticket: ${await endpoint.generateTicket()}`);
    const stopWatching = watchStatuses(manager, say);
    const syncLines = host.sync ? watchSync(manager, host.sync.engine.activity$, progress) : null;
    // The folder went away under us (deleted, moved, unmounted): say so and stop, rather than sync nothing quietly.
    const stopped = new AbortController();
    const lostWatch = host.sync?.lost$.subscribe((reason) => stopped.abort(reason));
    const events = manager.events$.subscribe((event) => {
      const who = 'nodeId' in event ? shownDevice({ nodeId: event.nodeId, name: manager.getPeer(event.nodeId)?.name ?? ('name' in event ? event.name : '') }) : '';
      if (event.type === 'problem') progress({ text: `problem: ${shownReason(event.message)}`, problem: true });
      if (event.type === 'paired') say(`${clock()} paired with ${who}`);
      if (event.type === 'pairing-requested') say(`${clock()} ${who} asks to pair: vault-peers accept ${shortId(event.nodeId)}`);
      if (event.type === 'removed-by-peer') say(`${clock()} ${who} removed this device`);
      if (event.type === 'refused') say(`${clock()} refused ${shortId(event.nodeId)}: ${shownReason(event.reason)}`);
    });
    // A flood of strangers costs a few lines a minute, not one each.
    const refusals = endpoint.refusalReport$.subscribe((report) => say(`${clock()} ${refusalLine(report)}`));
    try {
      await manager.connectAll();
      const either = AbortSignal.any([signal, stopped.signal]);
      await new Promise<void>((resolve) => {
        if (either.aborted) resolve();
        else either.addEventListener('abort', () => resolve(), { once: true });
      });
      if (stopped.signal.aborted) throw new VaultPeersError(`Stopped syncing: ${String(stopped.signal.reason)}`);
      say('Shutting down.');
    } finally {
      lostWatch?.unsubscribe();
      syncLines?.unsubscribe();
      stopWatching();
      events.unsubscribe();
      refusals.unsubscribe();
    }
    return null;
  },
  showProgress: (line, out) => (line.problem ? out.error(line.text) : out.line(line.text)),
  format: () => '',
});
