import { Subject, of } from 'rxjs';
import { PeerManager, type PeerManagerEvent } from '../../src/core/peer-manager';
import { createApi, type VaultPeersSyncEvent } from '../../src/plugin/api';
import type { SyncEvent } from '../../src/core/ports';
import type { ConflictCopy } from '../../src/sync';
import type { PeerView } from '../../src/core/model';
import { FakeConnection, FakeSyncEngine, FakeTransport, MemoryStorage } from '../support/fakes';
import { LOCAL_ID, storedPeer } from '../support/manager-harness';

describe('the API for other plugins (version 2)', () => {
  async function opened() {
    const transport = new FakeTransport(LOCAL_ID, (nodeId) => of(new FakeConnection(nodeId, 'outgoing')));
    const manager = await PeerManager.open({ transport, syncEngine: new FakeSyncEngine(), storage: MemoryStorage.with({ peers: [storedPeer('b')] }) });
    return { manager, api: createApi(manager, { conflicts$: of([]) }) };
  }

  it('hands out views only: records and statuses, never a connection or anything that acts on one', async () => {
    const { manager, api } = await opened();
    expect(api.version).toBe(2);
    expect(Object.isFrozen(api)).toBe(true);
    const lists: PeerView[][] = [];
    api.peerStates$.subscribe((list) => lists.push(list));
    const one: PeerView[] = [];
    api.peerState$('b').subscribe((view) => one.push(view));
    const called: PeerView[][] = [];
    const stop = api.onPeerStateChange((list) => called.push(list));
    await manager.connectToPeer('b');
    expect(manager.getPeerStates()[0]?.connection).not.toBeNull();
    for (const view of [...lists.flat(), ...one, ...called.flat()]) {
      expect(Object.keys(view).sort()).toEqual(['lastError', 'peer', 'status', 'syncProgress']);
      expect(JSON.stringify(view)).not.toContain('close');
    }
    expect(lists.at(-1)?.[0]?.status).toBe('connected');
    // The callback adapter hands out the very objects the stream does.
    expect(called.at(-1)?.[0]).toBe(lists.at(-1)?.[0]);
    stop();
    await manager.destroy();
  });

  it('a throwing callback of another plugin is isolated and reported, not rethrown', async () => {
    const { manager, api } = await opened();
    const events: PeerManagerEvent[] = [];
    manager.events$.subscribe((event) => events.push(event));
    api.onPeerStateChange(() => {
      throw new Error('other plugin bug');
    });
    await manager.connectToPeer('b');
    expect(events.filter((e) => e.type === 'problem').length).toBeGreaterThan(0);
    await manager.destroy();
  });

  it("streams each device's sync events (started, progress, merged, conflict, finished) with the device's id, and the conflict copies", async () => {
    const events = new Subject<SyncEvent>();
    const transport = new FakeTransport(LOCAL_ID, (nodeId) => of(new FakeConnection(nodeId, 'outgoing')));
    const manager = await PeerManager.open({ transport, syncEngine: new FakeSyncEngine(() => events), storage: MemoryStorage.with({ peers: [storedPeer('b')] }) });
    const copies = new Subject<readonly ConflictCopy[]>();
    const api = createApi(manager, { conflicts$: copies });
    const seen: VaultPeersSyncEvent[] = [];
    api.syncEvents$.subscribe((event) => seen.push(event));
    const called: VaultPeersSyncEvent[] = [];
    const stopThrowing = api.onSyncEvent(() => {
      throw new Error('another plugin has a bug');
    });
    const stop = api.onSyncEvent((event) => called.push(event));
    const shown: (readonly ConflictCopy[])[] = [];
    api.conflicts$.subscribe((list) => shown.push(list));
    const quiet = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    await manager.connectToPeer('b');
    events.next({ type: 'started' });
    events.next({ type: 'progress', files: { done: 1, total: 2 }, bytes: { done: 10, total: 20 } });
    events.next({ type: 'merged', path: 'Daily/2026-11-25.md' });
    events.next({ type: 'conflict', path: 'img.png', copy: 'img.sync-conflict-20261125-101500-ABCDEFG.png' });
    events.next({ type: 'finished' });
    copies.next([{ copy: 'img.sync-conflict-20261125-101500-ABCDEFG.png', original: 'img.png', originalExists: true }]);
    expect(seen.map((e) => e.type)).toEqual(['started', 'progress', 'merged', 'conflict', 'finished']);
    expect(seen.every((e) => e.nodeId === 'b')).toBe(true);
    expect(seen[2]).toEqual({ type: 'merged', path: 'Daily/2026-11-25.md', nodeId: 'b' });
    // A throwing listener is logged and does not stop the others.
    expect(called).toEqual(seen);
    expect(quiet).toHaveBeenCalledTimes(5);
    expect(shown.at(-1)).toEqual([expect.objectContaining({ original: 'img.png' })]);
    stop();
    stopThrowing();
    events.next({ type: 'started' });
    expect(called).toHaveLength(5);
    quiet.mockRestore();
    await manager.destroy();
  });
});
