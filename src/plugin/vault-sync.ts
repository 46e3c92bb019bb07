import { FileSystemAdapter, type App } from 'obsidian';
import { createHash } from 'crypto';
import { BehaviorSubject, EMPTY, of, switchMap, type Observable, type SchedulerLike } from 'rxjs';
import type { ClosableSyncEngine } from '../app/peer-node';
import { filterOf, type DeviceSettings } from '../app/settings';
import { toHex } from '../core/bytes';
import { VaultPeersError, errorMessage } from '../core/errors';
import type { PeerManager } from '../core/peer-manager';
import type { PeerConnection, SyncEvent } from '../core/ports';
import { VaultSyncEngine, type ActivityEntry, type ConflictChoice, type ConflictCopy, type PeerSyncStatus, type Sha256 } from '../sync';
import { SyncGate } from './sync-gate';
import { nodeByteRanges } from './vault/byte-ranges';
import { OpenNotes } from './vault/open-notes';
import { IndexedDbSyncStore, type IndexedDbHost } from './vault/sync-store-idb';
import { ObsidianVaultFiles } from './vault/vault-files';
import type { EditTiming } from './vault/vault-watch';

/** The name of this vault's sync database, kept in Obsidian's device-local storage. */
const STORE_NAME_KEY = 'vault-peers-sync-store';

/** SHA-256 from Node's crypto, which Obsidian's desktop app has: quicker than Web Crypto for many small files. */
const nodeSha256: Sha256 = (bytes) => Promise.resolve(new Uint8Array(createHash('sha256').update(bytes).digest()));

export interface VaultSyncOptions {
  readonly app: App;
  /** The plugin's folder, vault-relative (`manifest.dir`): staged transfers go in it. */
  readonly pluginDir: string;
  readonly settings: () => DeviceSettings;
  /** This device's name as others see it, for the reason shown when it does not sync with them. */
  readonly deviceName: () => string;
  readonly scheduler?: SchedulerLike;
  readonly editTiming?: EditTiming;
  /** Specs: a fake IndexedDB. */
  readonly indexedDb?: IndexedDbHost;
}

/**
 * The vault's sync inside Obsidian: the engine over the vault adapter and
 * the IndexedDB store, opened once the layout is ready and reopened when
 * what to sync changes; the gate the peer manager syncs through; and the
 * engine's streams for the views (empty until it opens). Data flows one
 * way: engine streams -> views.
 */
export class VaultSync implements ClosableSyncEngine {
  /** Register its `extension` with `registerEditorExtension`. */
  readonly notes = new OpenNotes();
  readonly gate: SyncGate;
  private readonly engine = new BehaviorSubject<VaultSyncEngine | null>(null);
  private store: IndexedDbSyncStore | null = null;
  private filterUsed = '';
  private deviceId: string | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  readonly conflicts$: Observable<readonly ConflictCopy[]>;
  readonly activityLog$: Observable<readonly ActivityEntry[]>;
  readonly activity$: Observable<ActivityEntry>;
  readonly peers$: Observable<ReadonlyMap<string, PeerSyncStatus>>;
  /** Why sync could not start, if it could not. */
  readonly problem$ = new BehaviorSubject<string | null>(null);

  constructor(private readonly options: VaultSyncOptions) {
    this.gate = new SyncGate(
      this.engine,
      (nodeId) => !options.settings().syncOff.includes(nodeId),
      () => `sync with this device is turned off on ${options.deviceName()}.`,
    );
    const live = <T>(pick: (engine: VaultSyncEngine) => Observable<T>, none: Observable<T>): Observable<T> =>
      this.engine.pipe(switchMap((engine) => (engine ? pick(engine) : none)));
    this.conflicts$ = live((e) => e.conflicts$, of<readonly ConflictCopy[]>([]));
    this.activityLog$ = live((e) => e.activityLog$, of<readonly ActivityEntry[]>([]));
    this.activity$ = live((e) => e.activity$, EMPTY);
    this.peers$ = live((e) => e.peers$, of<ReadonlyMap<string, PeerSyncStatus>>(new Map()));
  }

  /** Opens the engine for this device (its node id binds the store). */
  start(deviceId: string): Promise<void> {
    this.deviceId = deviceId;
    return this.serially(() => this.open());
  }

  /**
   * Reopens the engine if what to sync changed since it opened, and
   * reconnects the devices it was syncing with, so both sides compare their
   * whole index again under the new settings.
   */
  applySettings(manager: PeerManager | null): Promise<void> {
    return this.serially(async () => {
      if (this.deviceId === null || this.fingerprint() === this.filterUsed) return;
      await this.shut();
      await this.open();
      if (manager) await reconnect(manager, manager.getPeerStates().filter((s) => s.status === 'connected' || s.status === 'syncing').map((s) => s.peer.nodeId));
    });
  }

  /** Reconnects a device so that turning its sync on or off takes effect at once. */
  async resync(manager: PeerManager, nodeId: string): Promise<void> {
    const state = manager.getPeerStates().find((s) => s.peer.nodeId === nodeId);
    if (state && (state.status === 'connected' || state.status === 'syncing')) await reconnect(manager, [nodeId]);
  }

  resolveConflict(copyPath: string, choice: ConflictChoice): Promise<void> {
    const engine = this.engine.value;
    if (!engine) return Promise.reject(new VaultPeersError('Sync is not running yet.'));
    return engine.resolveConflict(copyPath, choice);
  }

  /** What to tell a person when `start` failed. */
  problemText(error: unknown): string {
    return this.problem$.value ?? `Vault Peers could not start syncing this vault: ${errorMessage(error)}`;
  }

  /** For specs and the status command: the engine, once open. */
  get current(): VaultSyncEngine | null {
    return this.engine.value;
  }

  /** What connections sync through: the gate, which waits for the engine. */
  syncWithPeer(connection: PeerConnection): Observable<SyncEvent> {
    return this.gate.syncWithPeer(connection);
  }

  /** Stops the engine (peers are told), closes the database and stops listening to editors. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    return (this.closing = this.serially(async () => {
      await this.shut();
      this.notes.close();
      this.engine.complete();
      this.problem$.complete();
    }));
  }

  private async open(): Promise<void> {
    if (this.closed || this.deviceId === null) return;
    const { app } = this.options;
    const adapter = app.vault.adapter;
    if (!(adapter instanceof FileSystemAdapter)) throw new VaultPeersError('Vault Peers needs the desktop app.');
    try {
      const store = await IndexedDbSyncStore.open(this.storeName(), this.options.indexedDb);
      this.store = store;
      const files = new ObsidianVaultFiles({
        app,
        notes: this.notes,
        ranges: nodeByteRanges,
        fullPath: (path) => adapter.getFullPath(path),
        stagingFolder: `${this.options.pluginDir}/staging`,
        sha256: nodeSha256,
        ...(this.options.scheduler ? { scheduler: this.options.scheduler } : {}),
        ...(this.options.editTiming ? { editTiming: this.options.editTiming } : {}),
      });
      this.filterUsed = this.fingerprint();
      const engine = await VaultSyncEngine.open({
        deviceId: this.deviceId,
        files,
        store,
        filter: filterOf(this.options.settings(), app.vault.configDir),
        sha256: nodeSha256,
        ...(this.options.scheduler ? { scheduler: this.options.scheduler } : {}),
      });
      this.problem$.next(null);
      this.engine.next(engine);
    } catch (error) {
      this.store?.close();
      this.store = null;
      this.problem$.next(`Vault Peers could not start syncing this vault: ${errorMessage(error)}`);
      throw error;
    }
  }

  private async shut(): Promise<void> {
    const engine = this.engine.value;
    if (engine) {
      this.engine.next(null);
      await engine.close();
    }
    this.store?.close();
    this.store = null;
  }

  /** One database per vault on this device, named once at random (the vault's name may change or repeat). */
  private storeName(): string {
    const { app } = this.options;
    let id: unknown = app.loadLocalStorage(STORE_NAME_KEY);
    if (typeof id !== 'string' || !/^[0-9a-f]{16}$/u.test(id)) {
      id = toHex(crypto.getRandomValues(new Uint8Array(8)));
      app.saveLocalStorage(STORE_NAME_KEY, id);
    }
    return `vault-peers-sync-${String(id)}`;
  }

  private fingerprint(): string {
    return JSON.stringify(filterOf(this.options.settings(), this.options.app.vault.configDir));
  }

  private serially(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** Disconnect, then connect: a new connection starts a new sync under the current settings. */
async function reconnect(manager: PeerManager, nodeIds: readonly string[]): Promise<void> {
  for (const nodeId of nodeIds) {
    await manager.disconnectPeer(nodeId);
    void manager.connectToPeer(nodeId).catch(() => undefined);
  }
}

