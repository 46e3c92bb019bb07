import { of } from 'rxjs';
import { PeerManager, type PeerManagerEvent } from '../../src/core/peer-manager';
import { createApi } from '../../src/plugin/api';
import type { PeerView } from '../../src/core/model';
import { FakeConnection, FakeSyncEngine, FakeTransport, MemoryStorage } from '../support/fakes';
import { LOCAL_ID, storedPeer } from '../support/manager-harness';

describe('the API for other plugins (version 2)', () => {
  async function opened() {
    const transport = new FakeTransport(LOCAL_ID, (nodeId) => of(new FakeConnection(nodeId, 'outgoing')));
    const manager = await PeerManager.open({ transport, syncEngine: new FakeSyncEngine(), storage: MemoryStorage.with({ peers: [storedPeer('b')] }) });
    return { manager, api: createApi(manager) };
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
});
