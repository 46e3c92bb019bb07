/**
 * @jest-environment jsdom
 */
import { of } from 'rxjs';
import { PeerManager } from '../../src/core/peer-manager';
import { PeerRows, type PeerActions } from '../../src/plugin/peer-row';
import { renderStatusBar } from '../../src/plugin/status-bar';
import { PeerStatusView, type SyncViewSource } from '../../src/plugin/status-view';
import type { ConflictActions } from '../../src/plugin/conflicts-list';
import type { ActivityEntry, ConflictCopy } from '../../src/sync';
import { BehaviorSubject } from 'rxjs';
import { Notice } from '../support/obsidian-mock';
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
    setSync: (id, on) => calls.push(`sync ${id} ${on}`),
    syncOn: (id) => id !== 'd',
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
    connection.remoteNodeId === 'e'
      ? new Observable<SyncEvent>((s) => {
          s.next({ type: 'started' });
          s.next({ type: 'progress', files: { done: 3, total: 10 }, bytes: { done: 1.5 * 1024 * 1024, total: 3 * 1024 * 1024 } });
        })
      : new Observable<SyncEvent>(),
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

async function openView(manager: PeerManager, actions = actionsSpy(), sync: Partial<SyncViewSource> = {}, conflicts?: ConflictActions) {
  const leaf = new WorkspaceLeaf(new App());
  const view = new PeerStatusView(leaf as never, {
    manager,
    actions,
    sync: { conflicts$: of([]), activityLog$: of([]), problem$: of(null), syncOff$: of([]), ...sync },
    conflicts: conflicts ?? { open: () => undefined, resolve: async () => undefined },
    addDevice: () => actions.calls.push('add'),
    joinDevice: () => actions.calls.push('join'),
  });
  await view.onOpen();
  return { view, actions };
}

const rowOf = (view: PeerStatusView, nodeId: string) => view.contentEl.querySelector<HTMLElement>(`[data-node-id="${nodeId}"]`)!;

describe('the peer status view', () => {
  it('shows each peer with name, short id, status badge, last sync and last error', async () => {
    const manager = await managerInEveryStatus();
    const { view } = await openView(manager);
    const badges = Array.from(view.contentEl.querySelectorAll('.vault-peers-badge')).map((b) => b.textContent);
    expect(badges).toEqual(['Disconnected', 'Connecting', 'Connected', 'Sync off', 'Syncing']);
    expect(rowOf(view, 'e').querySelector('.vault-peers-progress')?.textContent).toBe('Syncing 3 of 10 files, 1.5 MB of 3.0 MB');
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

describe('sync in the status view', () => {
  const copyOf = (name: string, originalExists = true): ConflictCopy => ({ copy: `${name}.sync-conflict-20261125-101500-ABCDEFG.png`, original: `${name}.png`, originalExists });

  it('lists conflict copies with open, keep this, keep the original and keep both; the buttons wait for the answer', async () => {
    const manager = await managerInEveryStatus();
    const copies = new BehaviorSubject<readonly ConflictCopy[]>([]);
    const calls: string[] = [];
    let settle: (error?: Error) => void = () => undefined;
    const conflicts: ConflictActions = {
      open: (path) => calls.push(`open ${path}`),
      resolve: (copy, choice) => {
        calls.push(`${choice} ${copy}`);
        return new Promise<void>((resolve, reject) => (settle = (error) => (error ? reject(error) : resolve())));
      },
    };
    const { view } = await openView(manager, actionsSpy(), { conflicts$: copies }, conflicts);
    const section = view.contentEl.querySelector<HTMLElement>('.vault-peers-conflicts')!;
    expect(section.classList.contains('vault-peers-hidden')).toBe(true);
    copies.next([copyOf('Photos/cat'), copyOf('gone', false)]);
    expect(section.classList.contains('vault-peers-hidden')).toBe(false);
    const rows = Array.from(section.querySelectorAll<HTMLElement>('.vault-peers-conflict'));
    expect(rows.map((r) => r.querySelector('.vault-peers-row-detail')?.textContent)).toEqual(['A second version of Photos/cat.png', 'A second version of gone.png, which is gone now']);
    const buttons = (row: HTMLElement) => Array.from(row.querySelectorAll('button'));
    expect(buttons(rows[0]!).map((b) => b.textContent)).toEqual(['Open', 'Keep this copy', 'Keep the original', 'Keep both']);
    // Nothing to keep of a file that is gone.
    expect(buttons(rows[1]!).map((b) => b.textContent)).toEqual(['Open', 'Keep this copy', 'Keep both']);
    buttons(rows[0]!)[0]!.click();
    buttons(rows[0]!)[1]!.click();
    expect(calls).toEqual([`open ${copyOf('Photos/cat').copy}`, `keep-this ${copyOf('Photos/cat').copy}`]);
    expect(buttons(rows[0]!).slice(1).every((b) => b.disabled)).toBe(true);
    // Refused (the file changed meanwhile): the reason is shown and the buttons work again.
    Notice.shown.length = 0;
    settle(new Error('Photos/cat.png changed meanwhile; look at it again before choosing.'));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(Notice.shown).toEqual(['Vault Peers: Photos/cat.png changed meanwhile; look at it again before choosing.']);
    expect(buttons(rows[0]!).some((b) => b.disabled)).toBe(false);
    copies.next([]);
    expect(section.classList.contains('vault-peers-hidden')).toBe(true);
    await view.onClose();
    await manager.destroy();
  });

  it('shows the activity log newest first, naming devices by their names here, and says why sync is not running', async () => {
    const manager = await managerInEveryStatus();
    const at = Date.parse('2026-11-25T10:15:00Z');
    const log = new BehaviorSubject<readonly ActivityEntry[]>([
      { at, kind: 'merged', path: 'Daily/2026-11-25.md', peer: 'b', message: 'Merged concurrent edits from b in Daily/2026-11-25.md' },
      { at: at + 1, kind: 'conflict', path: 'img.png', peer: 'e', message: 'Kept both versions of img.png: the other is img.sync-conflict-20261125-101500-ABCDEFG.png' },
      { at: at + 2, kind: 'not-synced', path: 'CON.md', peer: null, message: 'Not synced: "CON.md": Windows reserves this name.' },
    ]);
    const problem = new BehaviorSubject<string | null>(null);
    const { view } = await openView(manager, actionsSpy(), { activityLog$: log, problem$: problem });
    const lines = () => Array.from(view.contentEl.querySelectorAll('.vault-peers-activity-text')).map((l) => l.textContent);
    expect(lines()).toEqual([
      'Not synced: "CON.md": Windows reserves this name.',
      'Kept both versions of img.png: the other is img.sync-conflict-20261125-101500-ABCDEFG.png (changed on Tablet too)',
      'Merged concurrent edits from Old phone in Daily/2026-11-25.md',
    ]);
    await manager.updatePeer('b', { name: 'Laptop' });
    expect(lines()[2]).toBe('Merged concurrent edits from Laptop in Daily/2026-11-25.md');
    expect(view.contentEl.querySelector('.vault-peers-sync-problem')?.classList.contains('vault-peers-hidden')).toBe(true);
    problem.next('Vault Peers could not start syncing this vault: the disk is full.');
    expect(view.contentEl.querySelector('.vault-peers-sync-problem')?.textContent).toBe('Vault Peers could not start syncing this vault: the disk is full.');
    await view.onClose();
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
    expect(el.textContent).toBe('Peers: 2/4 syncing 3/10');
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
