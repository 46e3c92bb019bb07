/** Commands that pair devices, or decide about devices that ask: invite, join, pending, accept, ignore, block, unblock, policy. */
import { lastValueFrom } from 'rxjs';
import { looksLikeInvite } from '../core/pairing/invite-codec';
import { REASON_AWAITING_APPROVAL, REASON_NOT_PAIRED, REASON_PAUSED, REASON_REMOVED, REASON_REMOVED_BY_PEER } from '../core/messages';
import { shortId } from '../core/model';
import type { UnknownDevicePolicy } from '../core/ports';
import { UsageError, command, findDevice, stringOption, type CommandInput } from './command';
import type { DeviceRef } from './commands-peers';
import { clock, jsonForTerminal, localDateTime, qrCode, shownDevice, shownName, shownReason, type Output } from './terminal';

const VERIFY = '(the other device shows the same)';

/** `90`, `90s`, `10m`: a duration in ms. */
export function parseDuration(text: string): number {
  const match = /^(\d{1,6})(s|m)?$/.exec(text.trim());
  if (!match) throw new UsageError('--expires takes seconds or minutes, like 90s or 10m.');
  const ms = Number(match[1]) * (match[2] === 'm' ? 60_000 : 1_000);
  if (ms < 1_000 || ms > 24 * 3_600_000) throw new UsageError('--expires must be between 1 s and 24 h.');
  return ms;
}

/* ---- invite ---- */

export type ShownInvite = { readonly text: string; readonly link: string; readonly expiresAt: number };
export type InviteOutcome =
  | { readonly status: 'joined'; readonly nodeId: string; readonly name: string; readonly verificationCode: string }
  | { readonly status: 'expired' | 'cancelled' }
  | { readonly status: 'ticket'; readonly ticket: string };

async function showJoinLine(text: string, out: Output, link?: string): Promise<string> {
  const lines = [await qrCode(text, out.terminal), 'On the other device run:', `  vault-peers join ${text}`];
  if (link) lines.push(`or open ${link}`);
  return lines.join('\n');
}

export const invite = command<InviteOutcome, ShownInvite>({
  usage: 'invite [--expires 10m] [--ticket]',
  summary: 'Show a one-time invite (text and QR code) and wait until the other device joins with it; Ctrl-C cancels it.',
  options: { expires: { type: 'string' }, ticket: { type: 'boolean' } },
  arity: 0,
  needs: 'network',
  check: (input) => {
    const expires = stringOption(input, 'expires');
    if (expires !== undefined) parseDuration(expires);
  },
  run: async ({ host, signal, progress }, input) => {
    if (input.options.ticket) return { status: 'ticket', ticket: await host.node.transport.generateTicket() };
    const expires = stringOption(input, 'expires');
    const open = host.node.manager.pairing.createInvite(expires === undefined ? {} : { ttlMs: parseDuration(expires) });
    // The invite lives only as long as whoever shows it: a closed terminal or a killed command cancels it.
    const cancel = (): void => open.cancel();
    signal.addEventListener('abort', cancel);
    if (signal.aborted) cancel();
    try {
      progress({ text: open.text, link: open.link, expiresAt: open.expiresAt });
      const state = await lastValueFrom(open.state$);
      return state.status === 'joined'
        ? { status: 'joined', nodeId: state.peer.nodeId, name: state.peer.name, verificationCode: state.verificationCode }
        : { status: state.status === 'expired' ? 'expired' : 'cancelled' };
    } finally {
      signal.removeEventListener('abort', cancel);
    }
  },
  showProgress: async (shown, out) => {
    out.line(await showJoinLine(shown.text, out, shown.link));
    out.line(`The invite works once, until ${clock(new Date(shown.expiresAt))}. Waiting... (Ctrl-C cancels)`);
  },
  format: async (outcome, _input, out) => {
    switch (outcome.status) {
      case 'ticket':
        return showJoinLine(outcome.ticket, out);
      case 'joined':
        return `Paired with ${shownDevice(outcome)}.\nVerification code: ${outcome.verificationCode} ${VERIFY}`;
      case 'expired':
        return 'The invite expired before any device used it.';
      default:
        return 'The invite was cancelled.';
    }
  },
  cancelled: { status: 'cancelled' },
  exitCode: (outcome) => (outcome.status === 'joined' || outcome.status === 'ticket' ? 0 : 1),
});

/* ---- join ---- */

/**
 * What came of a join, as far as this device can tell:
 * - `paired`: both devices agree (the inviter accepted the invite, or the dial was accepted);
 * - `added`: stored here, but not known on the other side yet (not online here, or it did not answer);
 * - `waiting`: stored here; the other device asks its owner to accept this one;
 * - `refused`: stored here; the other device turned this one away (it does not know it, or removed it).
 */
export type JoinOutcome = DeviceRef & {
  readonly outcome: 'paired' | 'added' | 'waiting' | 'refused';
  readonly verificationCode: string | null;
  readonly reason: string | null;
  /** It was paired before this command. */
  readonly already: boolean;
  readonly online: boolean;
};

const REFUSALS: readonly string[] = [REASON_NOT_PAIRED, REASON_REMOVED_BY_PEER, REASON_PAUSED, REASON_REMOVED];

/** Exit codes of `join`, so a script can tell the outcomes apart. */
export const JOIN_EXIT: Readonly<Record<JoinOutcome['outcome'], number>> = { paired: 0, added: 0, waiting: 3, refused: 4 };

export const join = command<JoinOutcome>({
  usage: 'join <invite|ticket> [--name NAME]',
  summary: 'Pair with the device an invite (or a plain ticket) came from; says whether it paired, waits for approval there, or was refused.',
  options: { name: { type: 'string' } },
  arity: 1,
  needs: (input: CommandInput) => (looksLikeInvite(input.args[0] ?? '') ? 'network' : 'state'),
  run: async ({ host }, input) => {
    const manager = host.node.manager;
    const text = input.args[0]!;
    const name = stringOption(input, 'name') ?? '';
    const online = host.online;
    if (looksLikeInvite(text)) {
      const joined = await manager.pairing.joinWithInvite(text, name);
      const { nodeId } = joined.peer;
      return { outcome: 'paired', nodeId, name: joined.peer.name, verificationCode: joined.verificationCode, reason: null, already: false, online };
    }
    const before = new Set(manager.getPeers().map((p) => p.nodeId));
    const peer = await manager.addPeer(text, name);
    const base = { nodeId: peer.nodeId, name: peer.name, verificationCode: null, already: before.has(peer.nodeId), online };
    if (!online) return { ...base, outcome: 'added', reason: null };
    // A dial completes only once the other device accepts it: that, or its refusal, is the answer.
    await manager.connectToPeer(peer.nodeId);
    const state = manager.getPeerStates().find((s) => s.peer.nodeId === peer.nodeId);
    const reason = state?.lastError ?? null;
    if (state?.status === 'connected' || state?.status === 'syncing') return { ...base, outcome: 'paired', reason: null };
    if (reason === REASON_AWAITING_APPROVAL) return { ...base, outcome: 'waiting', reason };
    if (reason !== null && REFUSALS.includes(reason)) return { ...base, outcome: 'refused', reason };
    return { ...base, outcome: 'added', reason };
  },
  format: (result) => {
    const who = shownDevice(result);
    switch (result.outcome) {
      case 'paired':
        if (result.verificationCode) return `Paired with ${who}.\nVerification code: ${result.verificationCode} ${VERIFY}`;
        return result.already ? `Already paired with ${who}; connected.` : `Paired with ${who}: the other device accepted this one, and they are connected.`;
      case 'waiting':
        return `Added ${who}. It is waiting for its owner to accept this device (\`vault-peers accept\` there, or its settings in Obsidian).`;
      case 'refused':
        return `Added ${who} here, but it refused this device: ${shownReason(result.reason)} It connects once that device adds this one too; an invite (\`vault-peers invite\` there) pairs both at once.`;
      default:
        return result.online
          ? `Added ${who}. It did not answer yet${result.reason ? ` (${shownReason(result.reason)})` : ''}; this device keeps trying while it runs.`
          : `Added ${who}. Not connected yet: \`vault-peers run\` connects it.`;
    }
  },
  exitCode: (result) => JOIN_EXIT[result.outcome],
});

/* ---- devices without an invite ---- */

export type PendingOutput = {
  readonly policy: UnknownDevicePolicy;
  readonly pending: readonly { readonly nodeId: string; readonly name: string; readonly requestedAt: string }[];
  readonly blocked: readonly { readonly nodeId: string; readonly name: string; readonly refusals: number }[];
};

export const pending = command<PendingOutput>({
  usage: 'pending [--json]',
  summary: 'Show devices that asked to pair (policy `ask`) and blocked devices.',
  options: { json: { type: 'boolean' } },
  arity: 0,
  needs: 'state',
  run: async ({ host }) => {
    const manager = host.node.manager;
    return {
      policy: manager.pairing.unknownDevicePolicy,
      pending: manager.pairing.getPendingRequests().map(({ nodeId, name, requestedAt }) => ({ nodeId, name, requestedAt })),
      blocked: manager.pairing.getBlockedDevices().map(({ nodeId, name, refusals }) => ({ nodeId, name, refusals })),
    };
  },
  format: (list, input) => {
    if (input.options.json) return jsonForTerminal(list);
    const lines = [`Devices without an invite are ${list.policy === 'ask' ? 'listed here' : 'refused'} (policy: ${list.policy}).`];
    lines.push(list.pending.length ? 'Asking to pair:' : 'No device is asking to pair.');
    for (const r of list.pending) lines.push(`  ${shownName(r.name, r.nodeId).padEnd(20)} ${shortId(r.nodeId)}  since ${localDateTime(r.requestedAt)}`);
    if (list.blocked.length) lines.push('Blocked:');
    for (const b of list.blocked) lines.push(`  ${shownName(b.name, b.nodeId).padEnd(20)} ${shortId(b.nodeId)}  ${b.refusals} refused`);
    return lines.join('\n');
  },
});

export const accept = command<DeviceRef>({
  usage: 'accept <device>',
  summary: 'Pair with a device that asked; it is dialled at once.',
  arity: 1,
  needs: 'state',
  run: async ({ host }, { args }) => {
    const manager = host.node.manager;
    const request = findDevice(manager.pairing.getPendingRequests(), args[0]!, 'pairing requests', 'pending');
    const peer = await manager.pairing.acceptRequest(request.nodeId);
    return { nodeId: peer.nodeId, name: peer.name };
  },
  format: (result) => `Accepted ${shownDevice(result)}: it is paired here, and connects when both devices run.`,
});

export const ignore = command<DeviceRef>({
  usage: 'ignore <device>',
  summary: 'Drop a request; the device may ask again.',
  arity: 1,
  needs: 'state',
  run: async ({ host }, { args }) => {
    const request = findDevice(host.node.manager.pairing.getPendingRequests(), args[0]!, 'pairing requests', 'pending');
    await host.node.manager.pairing.ignoreRequest(request.nodeId);
    return { nodeId: request.nodeId, name: request.name };
  },
  format: (result) => `Ignored the request from ${shownDevice(result)}.`,
});

export const block = command<DeviceRef>({
  usage: 'block <device>',
  summary: 'Refuse a device from now on, silently (a paired one is removed).',
  arity: 1,
  needs: 'state',
  run: async ({ host }, { args }) => {
    const manager = host.node.manager;
    const found = findDevice([...manager.pairing.getPendingRequests(), ...manager.getPeers()], args[0]!, 'paired or asking devices', 'list');
    await manager.pairing.blockDevice(found.nodeId);
    return { nodeId: found.nodeId, name: found.name };
  },
  format: (result) => `Blocked ${shownDevice(result)}.`,
});

export const unblock = command<DeviceRef>({
  usage: 'unblock <device>',
  summary: 'Stop refusing a blocked device.',
  arity: 1,
  needs: 'state',
  run: async ({ host }, { args }) => {
    const found = findDevice(host.node.manager.pairing.getBlockedDevices(), args[0]!, 'blocked devices', 'pending');
    await host.node.manager.pairing.unblockDevice(found.nodeId);
    return { nodeId: found.nodeId, name: found.name };
  },
  format: (result) => `Unblocked ${shownDevice(result)}.`,
});

function policyArgument(text: string): UnknownDevicePolicy {
  if (text !== 'reject' && text !== 'ask') throw new UsageError('The policy is "reject" or "ask".');
  return text;
}

export const policy = command<{ readonly policy: UnknownDevicePolicy }>({
  usage: 'policy <reject|ask>',
  summary: 'What to do with devices that connect without an invite.',
  arity: 1,
  needs: 'state',
  check: ({ args }) => void policyArgument(args[0] ?? ''),
  run: async ({ host }, { args }) => {
    const chosen = policyArgument(args[0]!);
    // The running peer's setting and the stored one change together, through the one save queue.
    host.node.manager.pairing.setUnknownDevicePolicy(chosen);
    await host.saveSettings({ unknownDevices: chosen });
    return { policy: chosen };
  },
  format: (result) => `Devices without an invite are now ${result.policy === 'ask' ? 'listed for you to accept (vault-peers pending)' : 'refused'}.`,
});
