/**
 * A headless peer in this process, for the plugin's end-to-end specs: real
 * iroh on loopback (relays off), the engine on a real folder through the
 * Node folder adapter (@parcel/watcher), an in-memory store, and a peer
 * manager, wired as the headless peer wires them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeVaultFiles } from '../../src/cli/vault-folder';
import { PeerManager } from '../../src/core/peer-manager';
import { VaultSyncEngine, defaultFilter } from '../../src/sync';
import type { IrohTransport } from '../../src/transport/iroh-transport';
import { MemoryStorage } from '../support/fakes';
import { loopbackTransport } from '../support/iroh';
import { MemorySyncStore } from '../support/memory-store';
import { nodeSha256 } from '../support/sync-harness';

export interface HeadlessPeer {
  readonly name: string;
  readonly root: string;
  readonly transport: IrohTransport;
  readonly engine: VaultSyncEngine;
  readonly manager: PeerManager;
  close(): Promise<void>;
}

export async function headlessPeer(name: string, options: { root?: string } = {}): Promise<HeadlessPeer> {
  const root = options.root ?? (await mkdtemp(join(tmpdir(), `vp-headless-${name.toLowerCase()}-`)));
  const transport = await loopbackTransport(name);
  const files = await NodeVaultFiles.open(root);
  const engine = await VaultSyncEngine.open({ deviceId: transport.nodeId, files, store: new MemorySyncStore(), filter: defaultFilter('.obsidian'), sha256: nodeSha256 });
  const manager = await PeerManager.open({ transport, syncEngine: engine, storage: new MemoryStorage(), deviceName: () => name });
  let closed = false;
  return {
    name,
    root,
    transport,
    engine,
    manager,
    async close() {
      if (closed) return;
      closed = true;
      await engine.close();
      await manager.destroy();
      await transport.close();
      if (!options.root) await rm(root, { recursive: true, force: true });
    },
  };
}
