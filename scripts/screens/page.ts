/**
 * The page the screenshot script renders: the real status view, invite modal
 * and settings tab, built with the same obsidian stand-in the specs use, over
 * a peer manager with fake devices. `#view`, `#invite` or `#settings`.
 */
import { Observable, of } from 'rxjs';
import { PeerManager } from '../../src/core/peer-manager';
import type { PeerAddress } from '../../src/core/ports';
import type { SyncEvent } from '../../src/core/ports';
import { InviteModal } from '../../src/plugin/modals';
import { VaultPeersSettingTab } from '../../src/plugin/settings-tab';
import { DEFAULT_SETTINGS } from '../../src/app/settings';
import { renderStatusBar } from '../../src/plugin/status-bar';
import { PeerStatusView } from '../../src/plugin/status-view';
import { installObsidianDom } from '../../spec/support/obsidian-dom';
import { App, Plugin, WorkspaceLeaf } from '../../spec/support/obsidian-mock';
import { FakeConnection, FakeSyncEngine, FakeTransport, MemoryStorage } from '../../spec/support/fakes';

installObsidianDom(window as Window & typeof globalThis);

const hours = (n: number): string => new Date(Date.now() - n * 3_600_000).toISOString();
const id = (seed: string): string => seed.repeat(64).slice(0, 64);

class ShowcaseTransport extends FakeTransport {
  override localAddress(): PeerAddress {
    return {
      nodeId: this.nodeId,
      addresses: ['192.168.1.23:41641', '[2a02:8106:2a:9d00:1c4f:9a2e:77b1:3e10]:41641'],
      relay: 'https://euc1-1.relay.n0.iroh-canary.iroh.link./',
    };
  }
}

async function showcaseManager(): Promise<PeerManager> {
  const [phone, work, desktop, tablet] = ['3a9f', '7c21', 'b04e', 'e5d8'].map(id) as [string, string, string, string];
  const transport = new ShowcaseTransport(id('1f2e'), (nodeId) => {
    if (nodeId === phone) return new Observable((s) => s.error(new Error('The device did not answer within 10 s. Is it online and running Vault Peers?')));
    if (nodeId === work) return new Observable();
    return of(new FakeConnection(nodeId, 'outgoing'));
  });
  const syncEngine = new FakeSyncEngine((c) => (c.remoteNodeId === tablet ? new Observable<SyncEvent>((s) => s.next({ type: 'started' })) : new Observable<SyncEvent>()));
  const peer = (nodeId: string, name: string, lastSyncAt: string | null, autoConnect = true) => ({ nodeId, name, ticket: `fake:${nodeId}`, addedAt: hours(200), lastSyncAt, autoConnect });
  const storage = MemoryStorage.with({
    peers: [peer(phone, 'Old phone', hours(50)), peer(work, 'Work laptop', hours(0.1)), peer(desktop, 'Desktop', hours(3), false), peer(tablet, 'Tablet', hours(26))],
    pendingRequests: [{ nodeId: id('9d3c'), name: "Sam's laptop", ticket: 'fake:x', requestedAt: hours(0.2) }],
    blockedDevices: [{ nodeId: id('66a1'), name: 'Unknown device', blockedAt: hours(72), refusals: 4 }],
  });
  const manager = await PeerManager.open({ transport, syncEngine, storage, deviceName: () => 'MacBook Pro', backoff: { baseMs: 3_600_000 }, random: () => 1 });
  for (const nodeId of [phone, work, desktop, tablet]) void manager.connectToPeer(nodeId);
  return manager;
}

const noActions = { connect: () => undefined, disconnect: () => undefined, rename: () => undefined, setAutoConnect: () => undefined, remove: () => undefined };

async function main(): Promise<void> {
  const manager = await showcaseManager();
  const app = new App();
  const screen = location.hash.slice(1) || 'view';
  document.body.addClass(`screen-${screen}`);
  if (screen === 'view') {
    const pane = document.body.createDiv({ cls: 'workspace-pane' });
    const view = new PeerStatusView(new WorkspaceLeaf(app) as never, { manager, actions: noActions, addDevice: () => undefined, joinDevice: () => undefined });
    pane.appendChild(view.containerEl);
    await view.onOpen();
    const bar = document.body.createDiv({ cls: 'status-bar' }).createDiv({ cls: 'status-bar-item' });
    manager.peerStates$.subscribe((states) => renderStatusBar(bar, states));
  } else if (screen === 'invite') {
    new InviteModal(app as never, manager).open();
  } else {
    const tab = new VaultPeersSettingTab(app as never, new Plugin(app, { id: 'vault-peers', version: '0.1.0' }) as never, {
      manager: () => manager,
      actions: noActions,
      settings: () => ({ ...DEFAULT_SETTINGS, deviceName: 'MacBook Pro', unknownDevices: 'ask' }),
      saveSettings: async () => undefined,
      disabledReason: () => null,
    });
    document.body.createDiv({ cls: 'modal settings' }).appendChild(tab.containerEl);
    tab.display();
  }
  document.body.setAttr('data-ready', 'yes');
}

void main();
