import { createHash } from 'node:crypto';
import type { Subscription } from 'rxjs';
import type { SyncEvent } from '../../src/core/ports';
import { VaultSyncEngine, type SyncEngineOptions } from '../../src/sync/engine';
import { defaultFilter } from '../../src/sync/paths';
import { memoryLink, type MemoryLink, type MemoryLinkOptions } from './memory-connection';
import { MemorySyncStore } from './memory-store';
import { MemoryVault, type MemoryVaultOptions } from './memory-vault';

/**
 * Devices for sync specs: a vault, a store and an engine each, in memory,
 * connected by memory links. Real time, small timers; specs wait for
 * conditions, never for fixed sleeps.
 */

/** A node id for a device named by one letter: 64 hex digits. */
export const nodeIdOf = (name: string): string => Buffer.from(name.padEnd(32, name)).toString('hex').slice(0, 64);

/** SHA-256 through node:crypto: what the Node and Electron hosts pass (Web Crypto's async digest costs more per small file). */
export const nodeSha256 = (bytes: Uint8Array): Promise<Uint8Array> => Promise.resolve(new Uint8Array(createHash('sha256').update(bytes).digest()));

export interface DeviceOptions {
  readonly vault?: MemoryVaultOptions;
  readonly engine?: Partial<SyncEngineOptions>;
}

export class Device {
  engine!: VaultSyncEngine;
  readonly id: string;
  readonly vault: MemoryVault;
  store: MemorySyncStore;

  constructor(
    readonly name: string,
    private readonly options: DeviceOptions = {},
    vault?: MemoryVault,
  ) {
    this.id = nodeIdOf(name);
    this.vault = vault ?? new MemoryVault(options.vault);
    this.store = new MemorySyncStore();
  }

  static async start(name: string, files: Record<string, string | Uint8Array> = {}, options: DeviceOptions = {}): Promise<Device> {
    const device = new Device(name, options);
    for (const [path, content] of Object.entries(files)) device.vault.put(path, content);
    await device.open();
    return device;
  }

  async open(): Promise<void> {
    this.engine = await VaultSyncEngine.open({
      deviceId: this.id,
      files: this.vault,
      store: this.store,
      filter: defaultFilter('.obsidian'),
      debounceMs: 5,
      maxBatchMs: 50,
      progressMs: 20,
      sha256: nodeSha256,
      ...(process.env.SYNC_TRACE ? { trace: (step: string, detail: unknown) => console.log(this.name, step, JSON.stringify(detail)) } : {}),
      ...this.options.engine,
    });
  }

  /** Shuts down cleanly and starts again on the same folder and store. */
  async restart(): Promise<void> {
    await this.engine.close();
    await this.open();
  }

  /** As after `kill -9`: the engine is abandoned and a new one opens what the store committed. */
  async crashAndRestart(): Promise<void> {
    const abandoned = this.engine;
    this.store = this.store.snapshot();
    void abandoned.close().catch(() => undefined);
    await this.open();
  }
}

export interface Connection {
  readonly link: MemoryLink;
  readonly events: { readonly a: SyncEvent[]; readonly b: SyncEvent[] };
  readonly errors: { a: unknown; b: unknown };
  /** Unsubscribes both sessions (as PeerLink does on removal) and cuts the link. */
  disconnect(): void;
}

/** Connects two devices as PeerLink would: each side subscribes `syncWithPeer` on its end. */
export function connect(a: Device, b: Device, options: MemoryLinkOptions = {}): Connection {
  const link = memoryLink(a.id, b.id, options);
  const events = { a: [] as SyncEvent[], b: [] as SyncEvent[] };
  const errors: { a: unknown; b: unknown } = { a: null, b: null };
  const subs: Subscription[] = [
    a.engine.syncWithPeer(link.a).subscribe({ next: (e) => events.a.push(e), error: (e: unknown) => (errors.a = e) }),
    b.engine.syncWithPeer(link.b).subscribe({ next: (e) => events.b.push(e), error: (e: unknown) => (errors.b = e) }),
  ];
  return {
    link,
    events,
    errors,
    disconnect: () => {
      for (const sub of subs) sub.unsubscribe();
      link.cut('disconnected');
    },
  };
}

/** Waits until `condition` holds (polling), or fails with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > until) throw new Error(`Timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Whether the last event of each side is `finished`. */
export function bothFinished(connection: Connection): boolean {
  return connection.events.a.at(-1)?.type === 'finished' && connection.events.b.at(-1)?.type === 'finished';
}

/** Waits until every device holds the same tree and has nothing pending. */
export async function converged(devices: readonly Device[], what = 'devices to converge', timeoutMs = 10_000): Promise<Record<string, string>> {
  let tree: Record<string, string> = {};
  await waitFor(
    async () => {
      const trees = await Promise.all(devices.map((d) => d.vault.tree()));
      tree = trees[0]!;
      const same = trees.every((t) => JSON.stringify(t) === JSON.stringify(tree));
      return same && devices.every((d) => d.engine.pending().files === 0);
    },
    what,
    timeoutMs,
  );
  return tree;
}

/**
 * Devices and links of one spec file, closed after each spec: `start` opens a
 * device, `link` connects two; `devices` is the list closed afterwards (a spec
 * that closes or replaces a device itself edits it).
 */
export function deviceFleet(): {
  devices: Device[];
  start(name: string, files?: Record<string, string | Uint8Array>, options?: DeviceOptions): Promise<Device>;
  link(a: Device, b: Device, options?: Parameters<typeof connect>[2]): Connection;
} {
  const devices: Device[] = [];
  const links: Connection[] = [];
  afterEach(async () => {
    for (const c of links.splice(0)) c.disconnect();
    for (const d of devices.splice(0)) await d.engine.close().catch(() => undefined);
  });
  return {
    devices,
    async start(name, files = {}, options = {}) {
      const d = await Device.start(name, files, options);
      devices.push(d);
      return d;
    },
    link(a, b, options) {
      const c = connect(a, b, options);
      links.push(c);
      return c;
    },
  };
}
