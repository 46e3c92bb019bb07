import { MAX_NAME_LENGTH, type BlockedDevice, type Peer, type PendingRequest } from './model';
import type { PeerStorage } from './ports';
import { StorageError, errorMessage } from './errors';

/** Everything the manager keeps in the peers document (the spec's data.json, beside keys others keep there). */
export interface StoredState {
  readonly peers: readonly Peer[];
  readonly pendingRequests: readonly PendingRequest[];
  readonly blockedDevices: readonly BlockedDevice[];
}

/** Whether two stored states hold the same entries (entries are immutable, so identity is enough). */
export function sameStoredState(a: StoredState, b: StoredState): boolean {
  const same = <T>(x: readonly T[], y: readonly T[]): boolean => x.length === y.length && x.every((item, i) => item === y[i]);
  return same(a.peers, b.peers) && same(a.pendingRequests, b.pendingRequests) && same(a.blockedDevices, b.blockedDevices);
}

export interface LoadReport {
  readonly peers: Peer[];
  readonly pendingRequests: PendingRequest[];
  readonly blockedDevices: BlockedDevice[];
  /** One line per problem, fit to show a person. */
  readonly problems: string[];
}

const MAX_FIELD_LENGTH = 4_096;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isIsoDate(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 64 && !Number.isNaN(Date.parse(value));
}

function isNonEmptyString(value: unknown, max = MAX_FIELD_LENGTH): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max;
}

/** A stored entry as a Peer, or the reason it is not one. */
export function validatePeer(entry: unknown): Peer | string {
  if (!isRecord(entry)) return 'it is not an object';
  const { nodeId, name, ticket, addedAt, lastSyncAt, autoConnect } = entry;
  if (!isNonEmptyString(nodeId, 256)) return 'nodeId is missing or not a string';
  if (!isNonEmptyString(ticket)) return 'ticket is missing or not a string';
  if (typeof name !== 'string' || name.length > MAX_NAME_LENGTH) return `name is not a string of at most ${MAX_NAME_LENGTH} characters`;
  if (!isIsoDate(addedAt)) return 'addedAt is not a date';
  if (lastSyncAt !== null && lastSyncAt !== undefined && !isIsoDate(lastSyncAt)) return 'lastSyncAt is not a date';
  if (autoConnect !== undefined && typeof autoConnect !== 'boolean') return 'autoConnect is not true or false';
  return Object.freeze({
    nodeId,
    name,
    ticket,
    addedAt,
    lastSyncAt: lastSyncAt ?? null,
    autoConnect: autoConnect ?? true,
  });
}

function validatePending(entry: unknown): PendingRequest | null {
  if (!isRecord(entry)) return null;
  const { nodeId, name, ticket, requestedAt, seen } = entry;
  if (!isNonEmptyString(nodeId, 256) || !isNonEmptyString(ticket) || typeof name !== 'string' || name.length > MAX_NAME_LENGTH) return null;
  if (!isIsoDate(requestedAt)) return null;
  return Object.freeze({ nodeId, name, ticket, requestedAt, seen: seen === true });
}

function validateBlocked(entry: unknown): BlockedDevice | null {
  if (!isRecord(entry)) return null;
  const { nodeId, name, blockedAt, refusals } = entry;
  if (!isNonEmptyString(nodeId, 256) || typeof name !== 'string' || name.length > MAX_NAME_LENGTH || !isIsoDate(blockedAt)) return null;
  const count = typeof refusals === 'number' && Number.isSafeInteger(refusals) && refusals >= 0 ? refusals : 0;
  return Object.freeze({ nodeId, name, blockedAt, refusals: count });
}

/** A list stored under `key`, each entry checked; what does not validate is reported and kept verbatim. */
function parseList<T extends { nodeId: string }>(
  raw: Record<string, unknown>,
  key: string,
  label: string,
  validate: (entry: unknown) => T | null,
): { items: T[]; unreadable: unknown[]; problems: string[] } {
  const value = raw[key];
  if (value === undefined) return { items: [], unreadable: [], problems: [] };
  if (!Array.isArray(value)) return { items: [], unreadable: [], problems: [`The stored ${label} list is not a list and was ignored.`] };
  const items: T[] = [];
  const unreadable: unknown[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  value.forEach((entry: unknown, index: number) => {
    const item = validate(entry);
    if (!item) {
      unreadable.push(entry);
      problems.push(`Stored ${label} #${index + 1} was skipped; it is kept in the file unchanged.`);
    } else if (seen.has(item.nodeId)) {
      problems.push(`Stored ${label} #${index + 1} repeats the device ${item.nodeId}; the first entry is used.`);
    } else {
      seen.add(item.nodeId);
      items.push(item);
    }
  });
  return { items, unreadable, problems };
}

interface ParsedDocument {
  readonly peers: Peer[];
  readonly pendingRequests: PendingRequest[];
  readonly blockedDevices: BlockedDevice[];
  readonly unreadablePending: unknown[];
  readonly unreadableBlocked: unknown[];
  /** Entries that did not validate, kept verbatim so a save never drops them. */
  readonly unreadable: unknown[];
  readonly problems: string[];
}

/** @throws StorageError when the document as a whole is not the expected shape */
export function parsePeersDocument(raw: unknown): ParsedDocument {
  const none = { peers: [], pendingRequests: [], blockedDevices: [], unreadable: [], unreadablePending: [], unreadableBlocked: [], problems: [] };
  if (raw === null || raw === undefined) return none;
  if (!isRecord(raw)) throw new StorageError('The peers file is damaged: it does not hold an object. Fix or move it away; it was not changed.');
  const pending = parseList(raw, 'pendingRequests', 'pairing request', validatePending);
  const blocked = parseList(raw, 'blockedDevices', 'blocked device', validateBlocked);
  const lists = {
    pendingRequests: pending.items,
    blockedDevices: blocked.items,
    unreadablePending: pending.unreadable,
    unreadableBlocked: blocked.unreadable,
  };
  if (raw.peers === undefined) return { ...none, ...lists, problems: [...pending.problems, ...blocked.problems] };
  if (!Array.isArray(raw.peers)) {
    throw new StorageError('The peers file is damaged: "peers" is not a list. Fix or move it away; it was not changed.');
  }
  const peers: Peer[] = [];
  const unreadable: unknown[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  raw.peers.forEach((entry: unknown, index: number) => {
    const result = validatePeer(entry);
    if (typeof result === 'string') {
      unreadable.push(entry);
      problems.push(`Stored peer #${index + 1} was skipped: ${result}. It is kept in the file unchanged.`);
    } else if (seen.has(result.nodeId)) {
      problems.push(`Stored peer #${index + 1} repeats the device ${result.nodeId}; the first entry is used.`);
    } else {
      seen.add(result.nodeId);
      peers.push(result);
    }
  });
  return { peers, unreadable, problems: [...problems, ...pending.problems, ...blocked.problems], ...lists };
}

/**
 * Reads and writes the peers document through a storage port.
 *
 * Writes are serialized and coalesced: at most one write runs and one waits;
 * every save requested meanwhile joins the waiting one, which writes the
 * newest peers. So a burst of changes ends with the last state on disk, never
 * an interleaving. Each write re-reads the document and replaces only `peers`,
 * keeping every other key.
 */
export class PeerRepository {
  private latest: StoredState | null = null;
  private queued: Promise<void> | null = null;
  private tail: Promise<void> = Promise.resolve();
  private unreadable: unknown[] = [];
  private unreadablePending: unknown[] = [];
  private unreadableBlocked: unknown[] = [];
  /** Set when the stored document could not be read: saving would destroy it. */
  private blocked: StorageError | null = null;

  constructor(private readonly storage: PeerStorage) {}

  /** Never throws: a damaged document loads as no peers and blocks saving, with the reason in `problems`. */
  async load(): Promise<LoadReport> {
    try {
      const parsed = parsePeersDocument(await this.storage.load());
      this.unreadable = parsed.unreadable;
      this.unreadablePending = parsed.unreadablePending;
      this.unreadableBlocked = parsed.unreadableBlocked;
      this.blocked = null;
      const backup = parsed.problems.length > 0 ? await this.keepBackup() : null;
      return {
        peers: parsed.peers,
        pendingRequests: parsed.pendingRequests,
        blockedDevices: parsed.blockedDevices,
        problems: backup ? [`A copy of the file as it was is kept at ${backup}.`, ...parsed.problems] : parsed.problems,
      };
    } catch (error) {
      this.blocked =
        error instanceof StorageError
          ? error
          : new StorageError(`The peers file could not be read (${errorMessage(error)}). Fix or move it away; it was not changed.`);
      const backup = await this.keepBackup();
      const problems = backup ? [this.blocked.message, `A copy of the file as it was is kept at ${backup}.`] : [this.blocked.message];
      return { peers: [], pendingRequests: [], blockedDevices: [], problems };
    }
  }

  /** A backup failing must not stop loading: the original is left untouched anyway. */
  private async keepBackup(): Promise<string | null> {
    try {
      return (await this.storage.backup?.()) ?? null;
    } catch {
      return null;
    }
  }

  /** Saves the peers and the pairing lists, replacing only their keys. */
  save(state: StoredState): Promise<void> {
    if (this.blocked) return Promise.reject(this.blocked);
    this.latest = state;
    if (!this.queued) {
      const write = this.tail.then(() => {
        this.queued = null;
        return this.write();
      });
      this.queued = write;
      this.tail = write.catch(() => undefined);
    }
    return this.queued;
  }

  /** Resolves when every requested save has been attempted. */
  flush(): Promise<void> {
    return this.tail;
  }

  private async write(): Promise<void> {
    const state = this.latest ?? { peers: [], pendingRequests: [], blockedDevices: [] };
    const apply = (current: Record<string, unknown>): Record<string, unknown> => {
      const document: Record<string, unknown> = { ...current, peers: [...state.peers, ...this.unreadable] };
      // The pairing lists are written only once they hold something, so a plain peers file stays plain.
      const pending = [...state.pendingRequests, ...this.unreadablePending];
      const blocked = [...state.blockedDevices, ...this.unreadableBlocked];
      if (pending.length > 0 || document.pendingRequests !== undefined) document.pendingRequests = pending;
      if (blocked.length > 0 || document.blockedDevices !== undefined) document.blockedDevices = blocked;
      return document;
    };
    if (this.storage.update) {
      await this.storage.update(apply);
      return;
    }
    const current = await this.storage.load();
    if (current !== null && current !== undefined && !isRecord(current)) {
      throw new StorageError('The peers file was replaced by something that is not an object; it was not overwritten.');
    }
    await this.storage.save(apply((current as Record<string, unknown> | null) ?? {}));
  }
}
