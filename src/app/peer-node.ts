/**
 * The one wiring of a device, shared by both shells (the Obsidian plugin and
 * the headless peer): device key -> transport -> peer manager. The shells
 * differ only in where they keep the key and the peers document and in what
 * tells them the network changed; they pass those in.
 *
 * It lives outside src/core (which must not know iroh) and outside either
 * shell (which must not import each other), and imports neither `obsidian`
 * nor `node:*`, so both shells can use it.
 */
import { NEVER, throwError, type Observable } from 'rxjs';
import { VaultPeersError } from '../core/errors';
import { NO_SYNC } from '../core/no-sync';
import { PeerManager } from '../core/peer-manager';
import type { PeerConnection, PeerStorage, SyncEngine, Transport, UnknownDevicePolicy } from '../core/ports';
import {
  IrohTransport,
  generateSecretKey,
  nodeIdOfSecretKey,
  parseIrohTicket,
  ticketForAddress,
  type RelayModeSetting,
} from '../transport/iroh-transport';

/** Where a shell keeps this device's secret key (never in the peers document, which may be copied). */
export interface DeviceKeyStore {
  /**
   * The stored key, or null when there is none yet.
   * @throws VaultPeersError when a key is stored but damaged or unsafe to use
   */
  load(): Promise<Uint8Array | null>;
  /**
   * Stores a new key unless one exists by then.
   * @returns the key stored in the end: another writer may have created one first
   */
  create(key: Uint8Array): Promise<Uint8Array>;
}

export interface NetworkOptions {
  /** `host:port`, as the transport takes it. */
  readonly bindAddress: string;
  readonly relayMode: RelayModeSetting;
}

export interface PeerNodeOptions {
  readonly keys: DeviceKeyStore;
  readonly storage: PeerStorage;
  /** This device's name, read whenever it is announced. */
  readonly deviceName: () => string;
  readonly unknownDevicePolicy: UnknownDevicePolicy;
  /** Where to listen, or `offline`: no endpoint at all, for edits of the stored state only. */
  readonly network: NetworkOptions | 'offline';
  /** Each emission ends every pending backoff wait (network back, app in front again). */
  readonly redialTriggers$?: Observable<unknown>;
  /**
   * Opens what syncs connections, once this device's node id is known (a
   * sync engine's store is bound to it). Called before going online, so a
   * folder that cannot be synced stops the start before any peer connects.
   * Without it, connections carry no sync.
   */
  readonly openSync?: (nodeId: string) => Promise<ClosableSyncEngine>;
}

/** A sync engine the node closes when it closes (the folder's watcher, its store, its sessions). */
export interface ClosableSyncEngine extends SyncEngine {
  /** Stops every session (telling the peers), then everything else; the state it keeps is whole. */
  close(): Promise<void>;
}

export interface PeerNode {
  readonly manager: PeerManager;
  readonly transport: Transport;
  /** The iroh endpoint, when online. */
  readonly endpoint: IrohTransport | null;
  /** Closes the manager (connections, timers, pending saves), then the endpoint. Idempotent. */
  close(): Promise<void>;
}

export const NOT_ONLINE = 'This device is not online here.';

/** A transport that knows who this device is and can read tickets, but never goes online. */
function offlineTransport(nodeId: string): Transport {
  const notOnline = (): VaultPeersError => new VaultPeersError(NOT_ONLINE);
  return {
    nodeId,
    incoming$: NEVER,
    generateTicket: () => Promise.reject(notOnline()),
    parseTicket: parseIrohTicket,
    localAddress: () => {
      throw notOnline();
    },
    ticketFor: ticketForAddress,
    connect: (): Observable<PeerConnection> => throwError(notOnline),
  };
}

/** The device's key from the store, created on first use. */
export async function deviceKey(keys: DeviceKeyStore): Promise<Uint8Array> {
  return (await keys.load()) ?? (await keys.create(generateSecretKey()));
}

/**
 * Opens this device: its key, its endpoint (unless offline) and its peer
 * manager over the stored peers. A failure leaves nothing open.
 */
export async function openPeerNode(options: PeerNodeOptions): Promise<PeerNode> {
  const secretKey = await deviceKey(options.keys);
  const sync = options.openSync ? await options.openSync(nodeIdOfSecretKey(secretKey)) : null;
  let manager: PeerManager | null = null;
  let endpoint: IrohTransport | null = null;
  let transport: Transport | null = null;
  try {
    endpoint =
      options.network === 'offline'
        ? null
        : await IrohTransport.create({
            secretKey,
            deviceName: options.deviceName,
            relayMode: options.network.relayMode,
            bindAddress: options.network.bindAddress,
            // Paired devices; a stranger only with an invite this device recognises, or under `ask`.
            acceptNode: (nodeId, inviteSecret) => manager?.pairing.mayConnect(nodeId, inviteSecret) ?? false,
          });
    transport = endpoint ?? offlineTransport(nodeIdOfSecretKey(secretKey));
    manager = await PeerManager.open({
      transport,
      syncEngine: sync ?? NO_SYNC,
      storage: options.storage,
      redialTriggers$: options.redialTriggers$ ?? NEVER,
      deviceName: options.deviceName,
      unknownDevicePolicy: options.unknownDevicePolicy,
    });
  } catch (error) {
    await endpoint?.close();
    await sync?.close();
    throw error;
  }
  const opened = manager;
  const online = endpoint;
  let closing: Promise<void> | null = null;
  return {
    manager: opened,
    transport,
    endpoint: online,
    close: () =>
      (closing ??= (async () => {
        // The engine first, so that its sessions tell the peers this is a clean stop and no new one starts;
        // the connections close meanwhile, without waiting for the engine to finish its last writes.
        const syncClosed = sync?.close();
        try {
          await opened.destroy();
        } finally {
          try {
            await syncClosed;
          } finally {
            await online?.close();
          }
        }
      })()),
  };
}
