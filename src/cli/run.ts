/** `run`: the long-lived peer. It holds the state directory, stays online and prints one line per change. */
import type { PeerManager } from '../core/peer-manager';
import type { RefusalReport } from '../transport/iroh-transport';
import { shortId, type PeerState } from '../core/model';
import { command } from './command';
import { clock, shownDevice, shownName, shownReason } from './terminal';

/** A line for the log, or a problem for stderr. */
export type RunLine = { readonly text: string; readonly problem?: boolean };

function statusLine(state: PeerState): string {
  const why = state.status === 'disconnected' && state.lastError ? ` (${shownReason(state.lastError)})` : '';
  return `${clock()} ${shownDevice(state.peer)} ${state.status}${why}`;
}

/**
 * One line per status change of any peer, and one when a peer is removed.
 * A device paired while running is stored an instant before it connects: its
 * first `disconnected` is not news, so its first line is the `connected` one.
 */
export function watchStatuses(manager: PeerManager, print: (line: string) => void): () => void {
  const last = new Map<string, string>();
  let started = false;
  return manager.onPeerStateChange((states) => {
    const seen = new Set<string>();
    for (const state of states) {
      const nodeId = state.peer.nodeId;
      seen.add(nodeId);
      const previous = last.get(nodeId);
      if (previous === state.status) continue;
      if (previous === undefined && started && state.status === 'disconnected') continue;
      last.set(nodeId, state.status);
      print(statusLine(state));
    }
    for (const nodeId of [...last.keys()]) {
      if (!seen.has(nodeId)) {
        last.delete(nodeId);
        print(`${clock()} ${shortId(nodeId)} removed`);
      }
    }
    started = true;
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

export const run = command<null, RunLine>({
  usage: 'run',
  summary: 'Stay online: connect to paired devices, redial with backoff, print each status change until Ctrl-C or SIGTERM.',
  arity: 0,
  needs: 'daemon',
  run: async ({ host, signal, progress }) => {
    const { manager } = host.node;
    const endpoint = host.node.endpoint!;
    const say = (text: string): void => progress({ text });
    say(`${shownName(host.deviceName)} (${endpoint.nodeId}) is online on ${endpoint.boundSockets.join(', ')}.`);
    if (endpoint.usedFallbackPort) say('The stored port was taken; another one is used this time.');
    say(`ticket: ${await endpoint.generateTicket()}`);
    const stopWatching = watchStatuses(manager, say);
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
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
      say('Shutting down.');
    } finally {
      stopWatching();
      events.unsubscribe();
      refusals.unsubscribe();
    }
    return null;
  },
  showProgress: (line, out) => (line.problem ? out.error(line.text) : out.line(line.text)),
  format: () => '',
});
