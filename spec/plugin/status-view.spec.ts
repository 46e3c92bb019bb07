/**
 * @jest-environment jsdom
 */
import { of } from 'rxjs';
import { PeerManager } from '../../src/core/peer-manager';
import { PeerRows, type PeerActions } from '../../src/plugin/peer-row';
import { renderStatusBar } from '../../src/plugin/status-bar';
import { PeerStatusView } from '../../src/plugin/status-view';
import { relativeTime } from '../../src/plugin/format';
import { App, Component, WorkspaceLeaf } from '../support/obsidian-mock';
import { FakeConnection, FakeSyncEngine, FakeTransport, MemoryStorage } from '../support/fakes';
import { LOCAL_ID, storedPeer } from '../support/manager-harness';
import type { SyncEvent } from '../../src/core/ports';
import { Observable } from 'rxjs';

function actionsSpy(): PeerActions & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    connect: (id) => calls.push(`connect ${id}`),
    disconnect: (id) => calls.push(`disconnect ${id}`),
    rename: (id) => calls.push(`rename ${id}`),
    setAutoConnect: (id, on) => calls.push(`auto ${id} ${on}`),
    remove: (id) => calls.push(`remove ${id}`),
  };
}

/** A manager whose peers b, c, d, e end up disconnected (with an error), connecting, connected and syncing. */
async function managerInEveryStatus(): Promise<PeerManager> {
  const transport = new FakeTransport(LOCAL_ID, (nodeId) => {
    if (nodeId === 'b') return new Observable((s) => s.error(new Error('The device did not answer.')));
    if (nodeId === 'c') return new Observable();
    return of(new FakeConnection(nodeId, 'outgoing'));
  });
  const syncEngine = new FakeSyncEngine((connection) =>
    connection.remoteNodeId === 'e' ? new Observable<SyncEvent>((s) => s.next({ type: 'started' })) : new Observable<SyncEvent>(),
  );
  const storage = MemoryStorage.with({
    peers: [
      storedPeer('b', { name: 'Old phone', lastSyncAt: new Date(Date.now() - 5 * 60_000).toISOString() }),
      storedPeer('c', { name: 'Work laptop' }),
      storedPeer('d', { name: 'Desktop', autoConnect: false }),
      storedPeer('e', { name: 'Tablet' }),
    ],
  });
  const manager = await PeerManager.open({ transport, syncEngine, storage, random: () => 1, backoff: { baseMs: 3_600_000 } });
  await Promise.all(['b', 'c', 'd', 'e'].map((id) => void manager.connectToPeer(id)));
  await new Promise((resolve) => setTimeout(resolve, 0));
  return manager;
}

async function openView(manager: PeerManager, actions = actionsSpy()) {
  const leaf = new WorkspaceLeaf(new App());
  const view = new PeerStatusView(leaf as never, { manager, actions, addDevice: () => actions.calls.push('add'), joinDevice: () => actions.calls.push('join') });
  await view.onOpen();
  return { view, actions };
}

const rowOf = (view: PeerStatusView, nodeId: string) => view.contentEl.querySelector<HTMLElement>(`[data-node-id="${nodeId}"]`)!;

describe('the peer status view', () => {
  it('shows each peer with name, short id, status badge, last sync and last error', async () => {
    const manager = await managerInEveryStatus();
    const { view } = await openView(manager);
    const badges = Array.from(view.contentEl.querySelectorAll('.vault-peers-badge')).map((b) => b.textContent);
    expect(badges).toEqual(['Disconnected', 'Connecting', 'Connected', 'Syncing']);
    const phone = rowOf(view, 'b');
    expect(phone.querySelector('.vault-peers-name')?.textContent).toBe('Old phone');
    expect(phone.querySelector('.vault-peers-id')?.textContent).toBe('b');
    expect(phone.querySelector('.vault-peers-synced')?.textContent).toBe('Last synced 5 minutes ago');
    expect(phone.querySelector('.vault-peers-error')?.textContent).toBe('The device did not answer.');
    expect(rowOf(view, 'd').textContent).toContain('connects only when asked');
    expect(view.contentEl.querySelector('.vault-peers-empty')?.classList.contains('vault-peers-hidden')).toBe(true);
    await view.onClose();
    await manager.destroy();
  });

  it('redraws only the row of the peer that changed', async () => {
    const manager = await managerInEveryStatus();
    const { view } = await openView(manager);
    const before = ['b', 'c', 'd', 'e'].map((id) => rowOf(view, id));
    const untouchedChild = before[0]!.firstChild;
    await manager.disconnectPeer('d');
    expect(view.lastRedrawCount).toBe(1);
    expect(rowOf(view, 'd').querySelector('.vault-peers-badge')?.textContent).toBe('Disconnected');
    expect(['b', 'c', 'd', 'e'].map((id) => rowOf(view, id))).toEqual(before);
    expect(before[0]!.firstChild).toBe(untouchedChild);
    await manager.removePeer('c');
    expect(view.contentEl.querySelectorAll('.vault-peers-row')).toHaveLength(3);
    await view.onClose();
    await manager.destroy();
  });

  it('wires the row buttons to the actions', async () => {
    const manager = await managerInEveryStatus();
    const { view, actions } = await openView(manager);
    const click = (nodeId: string, text: string) =>
      Array.from(rowOf(view, nodeId).querySelectorAll('button')).find((b) => b.textContent === text)!.click();
    click('b', 'Connect');
    click('d', 'Disconnect');
    click('c', 'Rename');
    click('e', 'Remove');
    const toggle = rowOf(view, 'b').querySelector<HTMLInputElement>('input[type=checkbox]')!;
    toggle.checked = false;
    toggle.dispatchEvent(new Event('change'));
    expect(actions.calls).toEqual(['connect b', 'disconnect d', 'rename c', 'remove e', 'auto b false']);
    await view.onClose();
    await manager.destroy();
  });

  it('tells a new user how to add a device when none is paired', async () => {
    const manager = await PeerManager.open({ transport: new FakeTransport(LOCAL_ID), syncEngine: new FakeSyncEngine(), storage: new MemoryStorage() });
    const { view, actions } = await openView(manager);
    const empty = view.contentEl.querySelector('.vault-peers-empty')!;
    expect(empty.classList.contains('vault-peers-hidden')).toBe(false);
    expect(empty.textContent).toContain('Add a device');
    Array.from(view.contentEl.querySelectorAll('button')).find((b) => b.textContent === 'Add a device')!.click();
    expect(actions.calls).toEqual(['add']);
    await view.onClose();
    await manager.destroy();
  });

  it('stops listening when closed', async () => {
    const manager = await managerInEveryStatus();
    const { view } = await openView(manager);
    await view.onClose();
    const html = view.contentEl.innerHTML;
    await manager.disconnectPeer('d');
    expect(view.contentEl.innerHTML).toBe(html);
    const component = view as unknown as Component;
    component.unloadComponent();
    expect(component.registeredCount).toBe(0);
    await manager.destroy();
  });
});

describe('the peer rows', () => {
  it('refresh "last synced" as the clock moves, without redrawing any row', async () => {
    const manager = await managerInEveryStatus();
    let now = Date.now();
    const list = document.body.createDiv();
    const rows = new PeerRows(list, actionsSpy(), () => now);
    rows.update(manager.getPeerStates());
    const phone = list.querySelector<HTMLElement>('[data-node-id="b"]')!;
    const before = phone.firstChild;
    expect(phone.querySelector('.vault-peers-synced')?.textContent).toBe('Last synced 5 minutes ago');
    now += 2 * 3_600_000;
    rows.refreshTimes();
    expect(phone.querySelector('.vault-peers-synced')?.textContent).toBe('Last synced 2 hours ago');
    expect(phone.firstChild).toBe(before);
    await manager.destroy();
  });
});

describe('the status bar item', () => {
  it('counts connected peers and marks syncing', async () => {
    const manager = await managerInEveryStatus();
    const el = document.body.createDiv();
    renderStatusBar(el, manager.getPeerStates());
    expect(el.textContent).toBe('Peers: 2/4 syncing');
    renderStatusBar(el, []);
    expect(el.textContent).toBe('Peers: none');
    expect(el.getAttribute('aria-label')).toMatch(/Click to add one/);
    await manager.destroy();
  });
});

describe('relative times', () => {
  it.each([
    [null, 'never'],
    [0, 'just now'],
    [5 * 60_000, '5 minutes ago'],
    [60_000, '1 minute ago'],
    [3 * 3_600_000, '3 hours ago'],
    [2 * 86_400_000, '2 days ago'],
  ])('%p ms ago reads "%s"', (ago, text) => {
    const now = Date.parse('2026-11-25T12:00:00Z');
    expect(relativeTime(ago === null ? null : new Date(now - ago).toISOString(), now)).toBe(text);
  });
});

describe('finding the network module', () => {
  const { loadNative } = require('../../src/plugin/native-loader') as typeof import('../../src/plugin/native-loader');
  const load = (platform: string, arch: string, files: string[]) =>
    loadNative('/p', platform, arch, (path) => files.includes(path), (path) => ({ loadedFrom: path }));

  it('loads the binary for this platform from the plugin folder, including the musl build on Linux', () => {
    expect(load('linux', 'x64', ['/p/iroh.linux-x64-gnu.node'])).toEqual({ ok: true, module: { loadedFrom: '/p/iroh.linux-x64-gnu.node' } });
    expect(load('linux', 'x64', ['/p/iroh.linux-x64-musl.node'])).toEqual({ ok: true, module: { loadedFrom: '/p/iroh.linux-x64-musl.node' } });
    expect(load('darwin', 'arm64', ['/p/iroh.darwin-arm64.node'])).toMatchObject({ ok: true });
  });

  it('says in words why it cannot run: no build for this computer, a missing file, a file that fails to load', () => {
    expect(load('darwin', 'x64', [])).toEqual({ ok: false, reason: expect.stringMatching(/no network module for this computer \(darwin-x64\)/) });
    expect(load('win32', 'x64', [])).toEqual({ ok: false, reason: expect.stringMatching(/missing its network module \(iroh\.win32-x64-msvc\.node\)/) });
    const broken = loadNative('/p', 'linux', 'x64', () => true, () => {
      throw new Error('invalid ELF header\nmore');
    });
    expect(broken).toEqual({ ok: false, reason: 'Vault Peers could not load its network module: invalid ELF header' });
  });
});
