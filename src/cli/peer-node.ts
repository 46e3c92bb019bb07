import { NEVER, asyncScheduler, distinctUntilChanged, map, skip, throwError, timer, type Observable, type SchedulerLike } from 'rxjs';
import { networkInterfaces } from 'node:os';
import { VaultPeersError } from '../core/errors';
import { MAX_NAME_LENGTH } from '../core/model';
import { NO_SYNC } from '../core/no-sync';
import { PeerManager } from '../core/peer-manager';
import type { PeerConnection, Transport } from '../core/ports';
import {
  IrohTransport,
  generateSecretKey,
  nodeIdOfSecretKey,
  parseIrohTicket,
  ticketForAddress,
  type RelayModeSetting,
} from '../transport/iroh-transport';
import { loadOrCreateKey, readDocument, settingsOf, stateDir, updateSettings, type StateDir } from './state';
import { hostname } from 'node:os';

export interface PeerNodeOptions {
  readonly dir: string;
  readonly deviceName?: string;
  readonly relay: RelayModeSetting;
  readonly bind?: string;
}

/** The machine's interface addresses, as one comparable string. */
function interfaceFingerprint(): string {
  return JSON.stringify(
    Object.entries(networkInterfaces())
      .flatMap(([name, addresses]) => (addresses ?? []).map((a) => `${name}/${a.address}`))
      .sort(),
  );
}

/**
 * Emits when the machine's network interfaces change (a Wi-Fi switch, a cable
 * plugged in). The first reading, taken at subscription, is the baseline.
 */
export function networkChanges(everyMs = 5_000, scheduler: SchedulerLike = asyncScheduler, read: () => string = interfaceFingerprint): Observable<unknown> {
  return timer(0, everyMs, scheduler).pipe(map(read), distinctUntilChanged(), skip(1));
}

export interface OpenedNode {
  readonly state: StateDir;
  readonly manager: PeerManager;
  readonly transport: Transport;
  readonly online: IrohTransport | null;
  readonly deviceName: string;
  readonly warnings: readonly string[];
  close(): Promise<void>;
}

/** A transport that knows who we are and can read tickets, but never goes online: for edits while no `run` is up. */
function offlineTransport(nodeId: string): Transport {
  return {
    nodeId,
    incoming$: NEVER,
    generateTicket: () => Promise.reject(new VaultPeersError('Not online.')),
    parseTicket: parseIrohTicket,
    localAddress: () => {
      throw new VaultPeersError('Not online.');
    },
    ticketFor: ticketForAddress,
    connect: (): Observable<PeerConnection> => throwError(() => new VaultPeersError('Not online.')),
  };
}

/**
 * Opens this device's state: key, peers document, and (when `online`) an iroh
 * endpoint on the stored port. Fails with a one-line reason on a damaged state
 * file, before anything is written.
 */
export async function openNode(options: PeerNodeOptions, online: boolean): Promise<OpenedNode> {
  const state = stateDir(options.dir);
  const { document, warnings } = await readDocument(state);
  const settings = settingsOf(document);
  const key = await loadOrCreateKey(state, generateSecretKey);
  const deviceName = options.deviceName?.trim() || settings.deviceName || hostname();
  if (options.deviceName?.trim() && options.deviceName.trim() !== settings.deviceName) {
    await updateSettings(state, { deviceName: options.deviceName.trim().slice(0, MAX_NAME_LENGTH) });
  }

  let manager: PeerManager | null = null;
  let irohTransport: IrohTransport | null = null;
  let transport: Transport;
  if (online) {
    const host = options.bind ?? '0.0.0.0';
    const bind = /:\d+$/.test(host) && !host.endsWith(']') ? host : `${host}:${settings.port ?? 0}`;
    irohTransport = await IrohTransport.create({
      secretKey: key,
      deviceName: () => deviceName,
      relayMode: options.relay,
      bindAddress: bind,
      // Paired devices, and strangers only while an invite is open or the policy is `ask`.
      acceptNode: (nodeId, inviteSecret) => manager?.pairing.mayConnect(nodeId, inviteSecret) ?? false,
    });
    transport = irohTransport;
    const port = Number(irohTransport.boundSockets[0]?.split(':').pop());
    if (settings.port === undefined && Number.isInteger(port) && port > 0) await updateSettings(state, { port });
  } else {
    transport = offlineTransport(nodeIdOfSecretKey(key));
  }

  const opened = await PeerManager.open({
    transport,
    syncEngine: NO_SYNC,
    storage: state.storage,
    redialTriggers$: online ? networkChanges() : NEVER,
    deviceName: () => deviceName,
    unknownDevicePolicy: settings.unknownDevices ?? 'reject',
  });
  manager = opened;
  return {
    state,
    manager: opened,
    transport,
    online: irohTransport,
    deviceName,
    warnings: [...warnings],
    close: async () => {
      await opened.destroy();
      await irohTransport?.close();
    },
  };
}
