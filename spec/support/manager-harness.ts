import { distinctUntilChanged, map, type Observable, type SchedulerLike } from 'rxjs';
import type { Peer, PeerStatus } from '../../src/core/model';
import { PeerManager, type PeerManagerOptions } from '../../src/core/peer-manager';
import type { PeerConnection, SyncEvent } from '../../src/core/ports';
import { FakeSyncEngine, FakeTransport, MemoryStorage } from './fakes';

export const LOCAL_ID = 'm';

export function storedPeer(nodeId: string, overrides: Partial<Peer> = {}): Peer {
  return {
    nodeId,
    name: `Device ${nodeId}`,
    ticket: `fake:${nodeId}`,
    addedAt: '2024-01-15T10:30:00.000Z',
    lastSyncAt: null,
    autoConnect: true,
    ...overrides,
  };
}

export interface Harness {
  readonly manager: PeerManager;
  readonly transport: FakeTransport;
  readonly syncEngine: FakeSyncEngine;
  readonly storage: MemoryStorage;
}

/** A manager over fakes, with peers already loaded, for marble specs. */
export function harness(
  scheduler: SchedulerLike,
  setup: {
    peers?: Peer[];
    dial?: (nodeId: string) => Observable<PeerConnection>;
    sync?: (connection: PeerConnection) => Observable<SyncEvent>;
    options?: Partial<PeerManagerOptions>;
    /** This device's node id; LOCAL_ID ('m') unless given. */
    localId?: string;
  } = {},
): Harness {
  const transport = new FakeTransport(setup.localId ?? LOCAL_ID, setup.dial);
  const syncEngine = new FakeSyncEngine(setup.sync);
  const storage = new MemoryStorage();
  const manager = new PeerManager(
    { transport, syncEngine, storage, scheduler, random: () => 1, ...setup.options },
    { peers: setup.peers ?? [] },
  );
  return { manager, transport, syncEngine, storage };
}

/** Status letters for marbles: d(isconnected) c(onnecting) o(pen, connected) s(yncing). */
export const STATUS = { d: 'disconnected', c: 'connecting', o: 'connected', s: 'syncing' } as const satisfies Record<string, PeerStatus>;

export function statusOf(manager: PeerManager, nodeId: string): Observable<string> {
  const letter: Record<PeerStatus, string> = { disconnected: 'd', connecting: 'c', connected: 'o', syncing: 's' };
  return manager.peerState$(nodeId).pipe(
    map((state) => letter[state.status]),
    distinctUntilChanged(),
  );
}
