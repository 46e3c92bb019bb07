/** Commands on paired devices: list, rename, remove, connect, disconnect. */
import { shortId, type PeerState } from '../core/model';
import { command, findDevice } from './command';
import { jsonForTerminal, localDateTime, shownDevice, shownName, shownReason } from './terminal';

export type PeerRow = {
  readonly nodeId: string;
  readonly name: string;
  readonly status: string;
  readonly lastError: string | null;
  readonly lastSyncAt: string | null;
  readonly autoConnect: boolean;
};

export type ListOutput = {
  readonly self: { readonly nodeId: string; readonly name: string; readonly online: boolean; readonly connections: number | null };
  readonly peers: readonly PeerRow[];
};

export type DeviceRef = { readonly nodeId: string; readonly name: string };

function rows(states: readonly PeerState[], online: boolean): PeerRow[] {
  return states.map(({ peer, status, lastError }) => ({
    nodeId: peer.nodeId,
    name: peer.name,
    status: online ? status : 'offline',
    lastError,
    lastSyncAt: peer.lastSyncAt,
    autoConnect: peer.autoConnect,
  }));
}


export const list = command<ListOutput>({
  usage: 'list [--json]',
  summary: 'Show paired devices and their status.',
  options: { json: { type: 'boolean' } },
  arity: 0,
  needs: 'state',
  run: async ({ host }) => ({
    self: {
      nodeId: host.node.transport.nodeId,
      name: host.deviceName,
      online: host.daemon,
      connections: host.daemon ? (host.node.endpoint?.connectionCount ?? null) : null,
    },
    peers: rows(host.node.manager.getPeerStates(), host.daemon),
  }),
  format: (list, input) => {
    if (input.options.json) return jsonForTerminal(list);
    const head = `${shownName(list.self.name)} (${shortId(list.self.nodeId)}) is ${list.self.online ? 'online' : 'not running'}.`;
    if (list.peers.length === 0) return `${head}\nNo paired devices yet. Run \`vault-peers invite\` here and \`vault-peers join <invite>\` on the other device.`;
    const lines = list.peers.map((p) => {
      const sync = p.lastSyncAt ? `synced ${localDateTime(p.lastSyncAt)}` : 'never synced';
      const error = p.lastError && p.status !== 'connected' && p.status !== 'syncing' ? `  (${shownReason(p.lastError)})` : '';
      return `  ${shownName(p.name, p.nodeId).padEnd(20)} ${shortId(p.nodeId)}  ${p.status.padEnd(12)} ${sync}${p.autoConnect ? '' : ', manual'}${error}`;
    });
    return `${head}\n${lines.join('\n')}`;
  },
});

export const rename = command<DeviceRef>({
  usage: 'rename <device> <new name>',
  summary: 'Rename a paired device (by name, node id or id prefix).',
  arity: 2,
  needs: 'state',
  run: async ({ host }, { args }) => {
    const manager = host.node.manager;
    const peer = findDevice(manager.getPeers(), args[0]!, 'paired devices', 'list');
    await manager.updatePeer(peer.nodeId, { name: args[1]! });
    return { nodeId: peer.nodeId, name: manager.getPeer(peer.nodeId)?.name ?? args[1]! };
  },
  format: (result) => `Renamed ${shortId(result.nodeId)} to ${shownName(result.name, result.nodeId)}.`,
});

export const remove = command<DeviceRef>({
  usage: 'remove <device>',
  summary: 'Unpair a device: disconnect it (it is told) and refuse its connections from now on.',
  arity: 1,
  needs: 'state',
  run: async ({ host }, { args }) => {
    const peer = findDevice(host.node.manager.getPeers(), args[0]!, 'paired devices', 'list');
    await host.node.manager.removePeer(peer.nodeId);
    return { nodeId: peer.nodeId, name: peer.name };
  },
  format: (result) => `Removed ${shownDevice(result)}.`,
});

export type ConnectOutput = DeviceRef & { readonly status: string; readonly lastError: string | null };

export const connect = command<ConnectOutput>({
  usage: 'connect <device>',
  summary: 'Connect to a paired device now (skipping any wait), and keep it connected.',
  arity: 1,
  needs: 'running',
  run: async ({ host }, { args }) => {
    const manager = host.node.manager;
    const peer = findDevice(manager.getPeers(), args[0]!, 'paired devices', 'list');
    await manager.connectToPeer(peer.nodeId);
    const state = manager.getPeerStates().find((s) => s.peer.nodeId === peer.nodeId);
    return { nodeId: peer.nodeId, name: peer.name, status: state?.status ?? 'disconnected', lastError: state?.lastError ?? null };
  },
  format: (result) =>
    result.status === 'connected' || result.status === 'syncing'
      ? `Connected to ${shownDevice(result)}.`
      : `Could not connect to ${shownDevice(result)}${result.lastError ? `: ${shownReason(result.lastError)}` : '.'}`,
  exitCode: (result) => (result.status === 'connected' || result.status === 'syncing' ? 0 : 1),
});

export const disconnect = command<DeviceRef>({
  usage: 'disconnect <device>',
  summary: 'Close the connection to a paired device and stop redialling it, until `connect` or a restart.',
  arity: 1,
  needs: 'running',
  run: async ({ host }, { args }) => {
    const peer = findDevice(host.node.manager.getPeers(), args[0]!, 'paired devices', 'list');
    await host.node.manager.disconnectPeer(peer.nodeId);
    return { nodeId: peer.nodeId, name: peer.name };
  },
  format: (result) => `Disconnected ${shownDevice(result)}. It stays paired; \`vault-peers connect ${shortId(result.nodeId)}\` connects again.`,
});
