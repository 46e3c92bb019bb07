/** Commands on the synced vault: status, conflicts, resolve. They read the running peer's engine through its control socket. */
import { firstValueFrom } from 'rxjs';
import { isAbsolute, relative } from 'node:path';
import { VaultPeersError } from '../core/errors';
import { shortId } from '../core/model';
import type { SyncProgress } from '../core/ports';
import type { ConflictChoice, PeerSyncState } from '../sync';
import { UsageError, command } from './command';
import type { Host } from './host';
import { shownPath } from './sync-lines';
import type { SyncedVault } from './synced-vault';
import { count, jsonForTerminal, localDateTime, shownDevice, shownName, shownReason, sizeText } from './terminal';

type Count = { readonly done: number; readonly total: number };
/** `SyncProgress` as plain data (an interface is not JSON to the type checker). */
export type ProgressRow = { readonly files: Count; readonly bytes: Count };

export type SyncPeerRow = {
  readonly nodeId: string;
  readonly name: string;
  /** The connection: connected, syncing, connecting, disconnected... or `offline` when no peer runs here. */
  readonly status: string;
  /** The engine's view of the sync with it (null when nothing syncs here). */
  readonly sync: PeerSyncState | null;
  /** Files and bytes of the catch-up or burst in flight, or null. */
  readonly progress: ProgressRow | null;
  /** Changes of this device the peer has not confirmed holding (null when nothing syncs here). */
  readonly waiting: number | null;
  readonly lastSyncAt: string | null;
  readonly lastError: string | null;
};

export type StatusOutput = {
  readonly self: { readonly nodeId: string; readonly name: string; readonly running: boolean };
  /** The folder this device syncs (stored), or null. */
  readonly vault: string | null;
  /** Whether the running peer syncs it now. */
  readonly syncing: boolean;
  /** Where the sync state of the vault lives, while it syncs. */
  readonly stateDir: string | null;
  /** Files this device still has to write, move, fetch or delete, and their bytes. */
  readonly here: { readonly files: number; readonly bytes: number } | null;
  readonly notSynced: ReadonlyArray<{ readonly path: string; readonly reason: string }>;
  readonly conflicts: number | null;
  readonly peers: readonly SyncPeerRow[];
};

async function statusOf(host: Host): Promise<StatusOutput> {
  const manager = host.node.manager;
  const sync = host.sync;
  const engine = sync?.engine;
  const syncStates = engine ? await firstValueFrom(engine.peers$) : null;
  const peers = manager.getPeerStates().map(({ peer, status, lastError, syncProgress }): SyncPeerRow => {
    const engineState = syncStates?.get(peer.nodeId);
    return {
      nodeId: peer.nodeId,
      name: peer.name,
      status: host.daemon ? status : 'offline',
      sync: engine ? (engineState?.state ?? 'stopped') : null,
      progress: progressRow(syncProgress ?? engineState?.progress ?? null),
      waiting: engine ? engine.pendingFor(peer.nodeId).files : null,
      lastSyncAt: peer.lastSyncAt,
      lastError: lastError ?? engineState?.lastError ?? null,
    };
  });
  return {
    self: { nodeId: host.node.transport.nodeId, name: host.deviceName, running: host.daemon },
    vault: host.vault,
    syncing: engine !== undefined,
    stateDir: sync?.stateDir ?? null,
    here: engine ? engine.pending() : null,
    notSynced: engine ? [...(await firstValueFrom(engine.notSynced$)).values()].map(({ path, reason }) => ({ path, reason })) : [],
    conflicts: engine ? (await firstValueFrom(engine.conflicts$)).length : null,
    peers,
  };
}

function progressRow(progress: SyncProgress | null): ProgressRow | null {
  return progress && { files: { ...progress.files }, bytes: { ...progress.bytes } };
}

function progressText(progress: ProgressRow): string {
  const bytes = progress.bytes.total > 0 ? `, ${sizeText(progress.bytes.done)} of ${sizeText(progress.bytes.total)}` : '';
  return `${progress.files.done} of ${count(progress.files.total, 'file')}${bytes}`;
}

function peerLine(row: SyncPeerRow): string {
  const state = row.sync === null || row.sync === 'stopped' ? row.status : row.sync === 'live' ? 'in sync' : row.sync;
  const progress = row.progress && row.sync !== 'live' ? ` (${progressText(row.progress)})` : '';
  const synced = row.lastSyncAt ? `synced ${localDateTime(row.lastSyncAt)}` : 'never synced';
  const waiting = row.waiting === null ? '' : row.waiting === 0 ? ', nothing waiting' : `, ${count(row.waiting, 'change')} waiting for it`;
  const error = row.lastError && row.status !== 'connected' && row.status !== 'syncing' ? `  (${shownReason(row.lastError)})` : '';
  return `  ${shownDevice(row).padEnd(30)} ${`${state}${progress}`.padEnd(14)} ${synced}${waiting}${error}`;
}

export function formatStatus(status: StatusOutput): string {
  const me = `${shownName(status.self.name)} (${shortId(status.self.nodeId)})`;
  const lines: string[] = [];
  if (status.syncing) lines.push(`${me} syncs ${status.vault} (sync state in ${status.stateDir}).`);
  else if (!status.self.running) {
    lines.push(status.vault ? `${me} is not running: ${status.vault} is not being synced. \`vault-peers run\` syncs it.` : `${me} is not running, and no vault is set.`);
  } else lines.push(`${me} is running without a vault, so nothing is synced.`);
  if (!status.vault) lines.push('`vault-peers run --vault DIR` keeps DIR in sync with every paired device (and remembers it).');
  if (status.peers.length === 0) lines.push('No paired devices yet. Run `vault-peers invite` here and `vault-peers join <invite>` on the other device.');
  lines.push(...status.peers.map(peerLine));
  if (status.here && status.here.files > 0) lines.push(`Still to write here: ${count(status.here.files, 'file')}${status.here.bytes ? ` (${sizeText(status.here.bytes)})` : ''}.`);
  if (status.notSynced.length > 0) {
    lines.push(`Not synced (${status.notSynced.length}), these stay on this device:`);
    // The engine's reason is a whole sentence naming the file.
    lines.push(...status.notSynced.map((file) => `  ${shownReason(file.reason)}`));
  }
  if (status.conflicts) lines.push(`${count(status.conflicts, 'conflict copy', 'conflict copies')}: \`vault-peers conflicts\` lists them.`);
  return lines.join('\n');
}

export const status = command<StatusOutput>({
  usage: 'status [--json]',
  summary: 'Show the synced vault, each device: in sync or syncing, what waits for it, when it last synced; and files not synced.',
  options: { json: { type: 'boolean' } },
  arity: 0,
  needs: 'state',
  run: ({ host }) => statusOf(host),
  format: (result, input) => (input.options.json ? jsonForTerminal(result) : formatStatus(result)),
});

/** The running sync, or why a command about it cannot run here. */
function runningSync(host: Host, name: string): SyncedVault {
  if (host.sync) return host.sync;
  throw new VaultPeersError(`\`vault-peers ${name}\` needs a synced vault, and this peer runs without one. Restart it with \`vault-peers run --vault DIR\`.`);
}

export type ConflictRow = { readonly copy: string; readonly original: string; readonly originalExists: boolean };
export type ConflictsOutput = { readonly vault: string; readonly conflicts: readonly ConflictRow[] };

const CHOICES: Readonly<Record<string, { readonly choice: ConflictChoice; readonly done: string }>> = {
  copy: { choice: 'keep-this', done: 'the copy replaced the file, and is gone' },
  original: { choice: 'keep-that', done: 'the copy is deleted; the file stays as it is' },
  both: { choice: 'keep-both', done: 'the copy is kept under an ordinary name' },
};

const RESOLVE_HELP = [
  'Resolve one with `vault-peers resolve <copy> copy|original|both`:',
  '  copy      the copy replaces the file',
  '  original  the copy is deleted, the file stays',
  '  both      the copy is kept under an ordinary name ("name 2.ext")',
].join('\n');

export const conflicts = command<ConflictsOutput>({
  usage: 'conflicts [--json]',
  summary: 'List the conflict copies in the vault (both versions kept when two devices changed a file differently).',
  options: { json: { type: 'boolean' } },
  arity: 0,
  needs: 'running',
  run: async ({ host }) => {
    const sync = runningSync(host, 'conflicts');
    const copies = await firstValueFrom(sync.engine.conflicts$);
    return { vault: sync.vault.path, conflicts: copies.map(({ copy, original, originalExists }) => ({ copy, original, originalExists })) };
  },
  format: (result, input) => {
    if (input.options.json) return jsonForTerminal(result);
    if (result.conflicts.length === 0) return `No conflict copies in ${result.vault}.`;
    const rows = result.conflicts.map((c) => `  ${shownPath(c.copy)}  ${c.originalExists ? 'beside' : 'of (now gone)'} ${shownPath(c.original)}`);
    const head = `${count(result.conflicts.length, 'conflict copy', 'conflict copies')} in ${result.vault}:`;
    return `${head}\n${rows.join('\n')}\n${RESOLVE_HELP}`;
  },
});

/**
 * The conflict copy a person meant: its vault path, an absolute path inside
 * the vault, or the end of its path (a file name, a path relative to where
 * they stand, as a shell completes it).
 */
export function findCopy(copies: readonly ConflictRow[], query: string, vault: string): ConflictRow {
  const exact = copies.find((c) => c.copy === query);
  if (exact) return exact;
  const inside = isAbsolute(query) ? relative(vault, query).split('\\').join('/') : null;
  const byPath = inside !== null ? copies.find((c) => c.copy === inside) : undefined;
  if (byPath) return byPath;
  const tail = query.split('\\').join('/').replace(/^(?:\.{1,2}\/)+/, '');
  // The file name or the end of its vault path; or a path that leads into the vault from elsewhere (`../Notes/x.png`).
  const matches = copies.filter((c) => c.copy === tail || c.copy.endsWith(`/${tail}`) || tail.endsWith(`/${c.copy}`));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw new VaultPeersError(`"${shownReason(query)}" matches ${matches.length} conflict copies; give more of its path.`);
  throw new VaultPeersError(`No conflict copy matches "${shownReason(query)}". \`vault-peers conflicts\` lists them.`);
}

export type ResolveOutput = { readonly copy: string; readonly original: string; readonly kept: string };

export const resolve = command<ResolveOutput>({
  usage: 'resolve <copy> copy|original|both',
  summary: 'Resolve a conflict copy: keep the copy (it replaces the file), the original (the copy is deleted), or both.',
  arity: 2,
  needs: 'running',
  check: ({ args }) => {
    if (!(args[1]! in CHOICES)) throw new UsageError(`Keep what? "copy", "original" or "both": vault-peers resolve <copy> copy|original|both`);
  },
  run: async ({ host }, { args }) => {
    const sync = runningSync(host, 'resolve');
    const found = findCopy(await firstValueFrom(sync.engine.conflicts$), args[0]!, sync.vault.path);
    try {
      await sync.engine.resolveConflict(found.copy, CHOICES[args[1]!]!.choice);
    } catch (error) {
      // The engine's reasons here are for people ("it changed meanwhile; look at it again").
      if (error instanceof Error && !(error instanceof VaultPeersError)) throw new VaultPeersError(error.message);
      throw error;
    }
    return { copy: found.copy, original: found.original, kept: args[1]! };
  },
  format: (result) => `Resolved ${shownPath(result.copy)}: ${CHOICES[result.kept]?.done ?? 'done'}. The other devices follow.`,
});
