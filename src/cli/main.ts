/**
 * `vault-peers`: a headless peer for Node, using the same core as the plugin
 * with a JSON state file of data.json's shape.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { homedir } from 'node:os';
import { join } from 'node:path';
import QRCode from 'qrcode';
import { VaultPeersError, errorMessage } from '../core/errors';
import { shortId, type PeerState } from '../core/model';
import type { PeerManager } from '../core/peer-manager';
import { looksLikeInvite } from '../core/pairing/invite-codec';
import type { OpenInvite } from '../core/pairing/invite-book';
import { lastValueFrom } from 'rxjs';
import { updateSettings } from './state';
import { askRunningPeer, controlPath, serveControl, type ControlRequest } from './control-socket';
import { openNode, type OpenedNode, type PeerNodeOptions } from './peer-node';

class UsageError extends VaultPeersError {}

const COMMON_HELP = `Options for every command:
  --dir DIR            state directory (default: $VAULT_PEERS_DIR or ~/.vault-peers)
  --device-name NAME   this device's name, shown to the devices it pairs with (stored)
  --relay MODE         default (n0's relays, reach devices across networks) or disabled (direct addresses only)
  --bind HOST[:PORT]   where to listen (default 0.0.0.0; without a port, the one stored on first start)
  -h, --help           this help`;

const COMMANDS: Record<string, { usage: string; summary: string; options?: ParseArgsConfig['options'] }> = {
  invite: {
    usage: 'invite [--expires 10m] [--ticket]',
    summary: 'Show a one-time invite (text and QR code) and wait until the other device joins with it.',
    options: { expires: { type: 'string' }, ticket: { type: 'boolean' } },
  },
  join: {
    usage: 'join <invite|ticket> [--name NAME]',
    summary: 'Pair with the device an invite (or a plain ticket) came from.',
    options: { name: { type: 'string' } },
  },
  list: { usage: 'list [--json]', summary: 'Show paired devices and their status.', options: { json: { type: 'boolean' } } },
  rename: { usage: 'rename <device> <new name>', summary: 'Rename a paired device (by name, node id or id prefix).' },
  remove: { usage: 'remove <device>', summary: 'Unpair a device: disconnect it (it is told) and refuse its connections from now on.' },
  pending: { usage: 'pending [--json]', summary: 'Show devices that asked to pair (policy `ask`) and blocked devices.', options: { json: { type: 'boolean' } } },
  accept: { usage: 'accept <device>', summary: 'Pair with a device that asked.' },
  ignore: { usage: 'ignore <device>', summary: 'Drop a request; the device may ask again.' },
  block: { usage: 'block <device>', summary: 'Refuse a device from now on, silently (a paired one is removed).' },
  unblock: { usage: 'unblock <device>', summary: 'Stop refusing a blocked device.' },
  policy: { usage: 'policy <reject|ask>', summary: 'What to do with devices that connect without an invite.' },
  run: { usage: 'run', summary: 'Stay online: connect to paired devices, redial with backoff, print each status change until Ctrl-C.' },
};

function mainHelp(): string {
  const lines = Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(30)} ${c.summary}`);
  return `Usage: vault-peers <command> [options]\n\nCommands:\n${lines.join('\n')}\n\n${COMMON_HELP}\n\nRun \`vault-peers <command> --help\` for one command.`;
}

function commandHelp(name: string): string {
  const command = COMMANDS[name]!;
  return `Usage: vault-peers ${command.usage}\n\n${command.summary}\n\n${COMMON_HELP}`;
}

interface Parsed {
  readonly command: string;
  readonly args: string[];
  readonly options: Record<string, string | boolean | undefined>;
  readonly node: PeerNodeOptions;
}

function parse(argv: string[]): Parsed | { help: string } {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') return { help: mainHelp() };
  const spec = COMMANDS[command];
  if (!spec) throw new UsageError(`Unknown command "${command}". Run \`vault-peers --help\` for the list.`);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
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
    throw new UsageError(`${errorMessage(error)}. Run \`vault-peers ${command} --help\`.`);
  }
  const options = parsed.values as Record<string, string | boolean | undefined>;
  if (options.help) return { help: commandHelp(command) };
  const relay = (options.relay as string | undefined) ?? 'default';
  if (relay !== 'default' && relay !== 'disabled') throw new UsageError('--relay must be "default" or "disabled".');
  const bind = options.bind as string | undefined;
  if (bind !== undefined && !/^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/.test(bind)) {
    throw new UsageError('--bind must look like 127.0.0.1, 127.0.0.1:4242 or [::]:4242.');
  }
  const dir = (options.dir as string | undefined) ?? process.env.VAULT_PEERS_DIR ?? join(homedir(), '.vault-peers');
  const deviceName = options['device-name'] as string | undefined;
  return {
    command,
    args: parsed.positionals,
    options,
    node: { dir, relay, ...(bind ? { bind } : {}), ...(deviceName ? { deviceName } : {}) },
  };
}

function requireArgs(parsed: Parsed, count: number): void {
  if (parsed.args.length !== count) throw new UsageError(`Usage: vault-peers ${COMMANDS[parsed.command]!.usage}`);
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

/** `90`, `90s`, `10m`: a duration in ms. */
export function parseDuration(text: string): number {
  const match = /^(\d{1,6})(s|m)?$/.exec(text.trim());
  if (!match) throw new UsageError('--expires takes seconds or minutes, like 90s or 10m.');
  const ms = Number(match[1]) * (match[2] === 'm' ? 60_000 : 1_000);
  if (ms < 1_000 || ms > 24 * 3_600_000) throw new UsageError('--expires must be between 1 s and 24 h.');
  return ms;
}

interface PeerRow {
  readonly nodeId: string;
  readonly name: string;
  readonly status: string;
  readonly lastError: string | null;
  readonly lastSyncAt: string | null;
  readonly autoConnect: boolean;
}

interface ListOutput {
  readonly self: { readonly nodeId: string; readonly name: string; readonly online: boolean; readonly connections: number | null };
  readonly peers: readonly PeerRow[];
}

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

function formatList(list: ListOutput): string {
  const head = `${list.self.name} (${shortId(list.self.nodeId)}) is ${list.self.online ? 'online' : 'not running'}.`;
  if (list.peers.length === 0) return `${head}\nNo paired devices yet. Run \`vault-peers invite\` here and \`vault-peers join <ticket>\` on the other device.`;
  const lines = list.peers.map((p) => {
    const sync = p.lastSyncAt ? `synced ${p.lastSyncAt}` : 'never synced';
    const error = p.lastError && p.status !== 'connected' ? `  (${p.lastError})` : '';
    return `  ${p.name.padEnd(20)} ${shortId(p.nodeId)}  ${p.status.padEnd(12)} ${sync}${p.autoConnect ? '' : ', manual'}${error}`;
  });
  return `${head}\n${lines.join('\n')}`;
}

/** What `join`, `list`, `rename` and `remove` do, against whichever manager owns the state. */
const openInvites = new Map<string, OpenInvite>();

async function edit(request: ControlRequest, node: OpenedNode): Promise<unknown> {
  const { manager } = node;
  const arg = request.args[0] ?? '';
  switch (request.command) {
    case 'join': {
      const name = (request.options.name as string | undefined) ?? '';
      if (looksLikeInvite(arg)) {
        if (!node.online) throw new VaultPeersError('Joining with an invite needs the network.');
        const joined = await manager.pairing.joinWithInvite(arg, name);
        return { nodeId: joined.peer.nodeId, name: joined.peer.name, verificationCode: joined.verificationCode };
      }
      const peer = await manager.addPeer(arg, name);
      return { nodeId: peer.nodeId, name: peer.name };
    }
    case 'invite': {
      if (request.options.ticket) return { ticket: await node.transport.generateTicket() };
      const ttl = typeof request.options.expires === 'string' ? parseDuration(request.options.expires) : undefined;
      const invite = manager.pairing.createInvite(ttl === undefined ? {} : { ttlMs: ttl });
      const id = invite.text.slice(-12);
      openInvites.set(id, invite);
      // Kept a while after it ends so the waiting client still hears how; then forgotten even if no client asks.
      invite.state$.subscribe({ complete: () => setTimeout(() => openInvites.delete(id), 60_000).unref() });
      return { id, text: invite.text, link: invite.link, expiresAt: invite.expiresAt };
    }
    case 'invite-wait': {
      const invite = openInvites.get(arg);
      if (!invite) throw new VaultPeersError('That invite is not open here.');
      const state = await lastValueFrom(invite.state$);
      openInvites.delete(arg);
      return state.status === 'joined'
        ? { status: 'joined', nodeId: state.peer.nodeId, name: state.peer.name, verificationCode: state.verificationCode }
        : { status: state.status };
    }
    case 'invite-cancel': {
      openInvites.get(arg)?.cancel();
      return { cancelled: true };
    }
    case 'pending':
      return { policy: manager.pairing.unknownDevicePolicy, pending: manager.pairing.getPendingRequests(), blocked: manager.pairing.getBlockedDevices() };
    case 'accept': {
      const request = findDevice(manager.pairing.getPendingRequests(), arg, 'pairing requests', 'pending');
      const peer = await manager.pairing.acceptRequest(request.nodeId);
      return { nodeId: peer.nodeId, name: peer.name };
    }
    case 'ignore': {
      const request = findDevice(manager.pairing.getPendingRequests(), arg, 'pairing requests', 'pending');
      await manager.pairing.ignoreRequest(request.nodeId);
      return { nodeId: request.nodeId, name: request.name };
    }
    case 'block': {
      const candidates = [...manager.pairing.getPendingRequests(), ...manager.getPeers()];
      const device = findDevice(candidates, arg, 'paired or asking devices', 'list');
      await manager.pairing.blockDevice(device.nodeId);
      return { nodeId: device.nodeId, name: device.name };
    }
    case 'unblock': {
      const device = findDevice(manager.pairing.getBlockedDevices(), arg, 'blocked devices', 'pending');
      await manager.pairing.unblockDevice(device.nodeId);
      return { nodeId: device.nodeId, name: device.name };
    }
    case 'policy': {
      if (arg !== 'reject' && arg !== 'ask') throw new UsageError('The policy is "reject" or "ask".');
      await updateSettings(node.state, { unknownDevices: arg });
      manager.pairing.setUnknownDevicePolicy(arg);
      return { policy: arg };
    }
    case 'rename': {
      const peer = findDevice(manager.getPeers(), arg, 'paired devices', 'list');
      await manager.updatePeer(peer.nodeId, { name: request.args[1] ?? '' });
      return { nodeId: peer.nodeId, name: manager.getPeer(peer.nodeId)?.name };
    }
    case 'remove': {
      const peer = findDevice(manager.getPeers(), arg, 'paired devices', 'list');
      await manager.removePeer(peer.nodeId);
      return { nodeId: peer.nodeId, name: peer.name };
    }
    case 'list':
      return {
        self: {
          nodeId: node.transport.nodeId,
          name: node.deviceName,
          online: node.online !== null,
          connections: node.online?.connectionCount ?? null,
        },
        peers: rows(manager.getPeerStates(), node.online !== null),
      } satisfies ListOutput;
    default:
      throw new VaultPeersError(`Unknown command ${request.command}`);
  }
}

function describe(command: string, output: unknown, json: boolean): string {
  if (json) return JSON.stringify(output, null, 2);
  const result = output as { nodeId?: string; name?: string };
  switch (command) {
    case 'join': {
      const code = (output as { verificationCode?: string }).verificationCode;
      return `Paired with ${result.name} (${shortId(result.nodeId ?? '')}).${code ? `\nVerification code: ${code} (the other device shows the same)` : ''}`;
    }
    case 'accept':
      return `Paired with ${result.name} (${shortId(result.nodeId ?? '')}).`;
    case 'ignore':
      return `Ignored the request from ${result.name} (${shortId(result.nodeId ?? '')}).`;
    case 'block':
      return `Blocked ${result.name || shortId(result.nodeId ?? '')}.`;
    case 'unblock':
      return `Unblocked ${result.name || shortId(result.nodeId ?? '')}.`;
    case 'policy':
      return `Devices without an invite are now ${(output as { policy: string }).policy === 'ask' ? 'listed for you to accept (vault-peers pending)' : 'refused'}.`;
    case 'pending':
      return formatPending(output as PendingOutput);
    case 'rename':
      return `Renamed ${shortId(result.nodeId ?? '')} to ${result.name}.`;
    case 'remove':
      return `Removed ${result.name} (${shortId(result.nodeId ?? '')}).`;
    case 'list':
      return formatList(output as ListOutput);
    default:
      return JSON.stringify(output);
  }
}

interface PendingOutput {
  readonly policy: string;
  readonly pending: readonly { nodeId: string; name: string; requestedAt: string }[];
  readonly blocked: readonly { nodeId: string; name: string; refusals: number }[];
}

function formatPending(list: PendingOutput): string {
  const lines = [`Devices without an invite are ${list.policy === 'ask' ? 'listed here' : 'refused'} (policy: ${list.policy}).`];
  lines.push(list.pending.length ? 'Asking to pair:' : 'No device is asking to pair.');
  for (const r of list.pending) lines.push(`  ${r.name.padEnd(20)} ${shortId(r.nodeId)}  since ${r.requestedAt}`);
  if (list.blocked.length) lines.push('Blocked:');
  for (const b of list.blocked) lines.push(`  ${(b.name || '-').padEnd(20)} ${shortId(b.nodeId)}  ${b.refusals} refused`);
  return lines.join('\n');
}

async function printInvite(invite: { text: string; link?: string; expiresAt?: number }, out: (line: string) => void): Promise<void> {
  out(await QRCode.toString(invite.text, { type: 'terminal', small: true }));
  out('On the other device run:');
  out(`  vault-peers join ${invite.text}`);
  if (invite.link) out(`or open ${invite.link}`);
  if (invite.expiresAt) out(`The invite works once, until ${new Date(invite.expiresAt).toISOString().slice(11, 19)} UTC. Waiting... (Ctrl-C cancels)`);
}

function describeInviteOutcome(state: { status: string; name?: string; nodeId?: string; verificationCode?: string }): string {
  switch (state.status) {
    case 'joined':
      return `Paired with ${state.name} (${shortId(state.nodeId ?? '')}).\nVerification code: ${state.verificationCode} (the other device shows the same)`;
    case 'expired':
      return 'The invite expired before any device used it.';
    default:
      return 'The invite was cancelled.';
  }
}

/** Shows an invite from whichever process is online and waits for its outcome. */
async function invite(parsed: Parsed, out: (line: string) => void): Promise<void> {
  const path = controlPath(parsed.node.dir);
  const request: ControlRequest = { command: 'invite', args: [], options: parsed.options };
  const remote = await askRunningPeer(path, request);
  if (remote && !remote.ok) throw new VaultPeersError(remote.error);
  let node: OpenedNode | null = null;
  try {
    let created: { id: string; text: string; link: string; expiresAt: number } | { ticket: string };
    if (remote?.ok) {
      created = remote.output as typeof created;
    } else {
      node = await openNode(parsed.node, true);
      created = (await edit(request, node)) as typeof created;
    }
    if ('ticket' in created) {
      await printInvite({ text: created.ticket }, out);
      return;
    }
    await printInvite(created, out);
    const cancel = (): void => {
      if (remote?.ok) void askRunningPeer(path, { command: 'invite-cancel', args: [created.id], options: {} });
      else openInvites.get(created.id)?.cancel();
    };
    process.once('SIGINT', cancel);
    const wait: ControlRequest = { command: 'invite-wait', args: [created.id], options: {} };
    const outcome = remote?.ok ? await askRunningPeer(path, wait, 25 * 3_600_000) : { ok: true as const, output: await edit(wait, node!) };
    process.off('SIGINT', cancel);
    if (!outcome?.ok) throw new VaultPeersError(outcome ? outcome.error : 'The running peer stopped.');
    const state = outcome.output as { status: string };
    out(describeInviteOutcome(state));
    if (state.status !== 'joined') throw new QuietExit(1);
  } finally {
    await node?.close();
  }
}

/** Ends a command with an exit code after it has printed what it had to say. */
class QuietExit extends Error {
  constructor(readonly code: number) {
    super('');
  }
}

/** One-shot commands: ask a running peer if there is one, otherwise open the state offline. */
async function oneShot(parsed: Parsed, out: (line: string) => void): Promise<void> {
  if (parsed.command === 'join') requireArgs(parsed, 1);
  if (parsed.command === 'rename') requireArgs(parsed, 2);
  if (parsed.command === 'remove') requireArgs(parsed, 1);
  if (['list', 'pending'].includes(parsed.command)) requireArgs(parsed, 0);
  if (['accept', 'ignore', 'block', 'unblock', 'policy'].includes(parsed.command)) requireArgs(parsed, 1);
  const request: ControlRequest = { command: parsed.command, args: parsed.args, options: parsed.options };
  const reply = await askRunningPeer(controlPath(parsed.node.dir), request);
  if (reply && !reply.ok) throw new VaultPeersError(reply.error);
  let output: unknown;
  if (reply?.ok) {
    output = reply.output;
  } else {
    // Joining with an invite needs the network; the other edits only the state.
    const node = await openNode(parsed.node, parsed.command === 'join' && looksLikeInvite(parsed.args[0] ?? ''));
    try {
      for (const warning of node.warnings) process.stderr.write(`warning: ${warning}\n`);
      output = await edit(request, node);
    } finally {
      await node.close();
    }
  }
  out(describe(parsed.command, output, parsed.options.json === true));
}

function statusLine(state: PeerState): string {
  const time = new Date().toISOString().slice(11, 19);
  const why = state.status === 'disconnected' && state.lastError ? ` (${state.lastError})` : '';
  return `${time} ${state.peer.name} (${shortId(state.peer.nodeId)}) ${state.status}${why}`;
}

/** Prints one line per status change of any peer, and a line when one is removed. */
function watchStatuses(manager: PeerManager, out: (line: string) => void): () => void {
  const last = new Map<string, string>();
  return manager.onPeerStateChange((states) => {
    const seen = new Set<string>();
    for (const state of states) {
      seen.add(state.peer.nodeId);
      if (last.get(state.peer.nodeId) === state.status) continue;
      last.set(state.peer.nodeId, state.status);
      out(statusLine(state));
    }
    for (const nodeId of [...last.keys()]) {
      if (!seen.has(nodeId)) {
        last.delete(nodeId);
        out(`${new Date().toISOString().slice(11, 19)} ${shortId(nodeId)} removed`);
      }
    }
  });
}

async function run(parsed: Parsed, out: (line: string) => void): Promise<void> {
  requireArgs(parsed, 0);
  const path = controlPath(parsed.node.dir);
  if (await askRunningPeer(path, { command: 'list', args: [], options: {} }, 2_000)) {
    throw new VaultPeersError(`A peer is already running for ${parsed.node.dir}.`);
  }
  const node = await openNode(parsed.node, true);
  for (const warning of node.warnings) process.stderr.write(`warning: ${warning}\n`);
  const transport = node.online!;
  const server = await serveControl(path, (request) => edit(request, node));
  out(`${node.deviceName} (${node.transport.nodeId}) is online on ${transport.boundSockets.join(', ')}.`);
  if (transport.usedFallbackPort) out('The stored port was taken; another one is used this time.');
  out(`ticket: ${await transport.generateTicket()}`);
  const stopWatching = watchStatuses(node.manager, out);
  const events = node.manager.events$.subscribe((event) => {
    if (event.type === 'problem') process.stderr.write(`problem: ${event.message}\n`);
    if (event.type === 'paired') out(`paired with ${event.name} (${shortId(event.nodeId)})`);
    if (event.type === 'pairing-requested') out(`${event.name} (${shortId(event.nodeId)}) asks to pair: vault-peers accept ${shortId(event.nodeId)}`);
    if (event.type === 'removed-by-peer') out(`${shortId(event.nodeId)} removed this device`);
    if (event.type === 'refused') out(`refused ${shortId(event.nodeId)}: ${event.reason}`);
  });
  const refusals = transport.refused$.subscribe(({ nodeId, reason }) => out(`refused ${shortId(nodeId)}: ${reason}`));

  await node.manager.connectAll();

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  out('Shutting down.');
  stopWatching();
  events.unsubscribe();
  refusals.unsubscribe();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await node.close();
}

/** @returns the process exit code */
export async function main(argv: string[], out: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Promise<number> {
  try {
    const parsed = parse(argv);
    if ('help' in parsed) {
      out(parsed.help);
      return 0;
    }
    if (parsed.command === 'run') await run(parsed, out);
    else if (parsed.command === 'invite') await invite(parsed, out);
    else await oneShot(parsed, out);
    return 0;
  } catch (error) {
    if (error instanceof QuietExit) return error.code;
    const message = error instanceof VaultPeersError ? error.message : `Unexpected error: ${errorMessage(error)}`;
    process.stderr.write(`vault-peers: ${message.split('\n')[0]}\n`);
    return error instanceof UsageError ? 64 : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    () => process.exit(1),
  );
}
