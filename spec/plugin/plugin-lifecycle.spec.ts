/**
 * @jest-environment jsdom
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { firstValueFrom, filter, timeout } from 'rxjs';
import type { PeerConnection } from '../../src/core/ports';
import { STATUS_VIEW_TYPE } from '../../src/plugin/status-view';
import { Modal, Notice, WorkspaceLeaf } from '../support/obsidian-mock';
import { PLUGIN_DIR, newPlugin, newVaultFolder } from './harness';
import { activeTimers, loopbackTransport, next } from '../support/iroh';

jest.setTimeout(30_000);

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the plugin', () => {
  it('loads iroh from its folder, connects to a paired device, and unloading leaves nothing running', async () => {
    const timersBefore = activeTimers();
    // A paired device on loopback that accepts the plugin.
    const desktop = await loopbackTransport('Desktop');
    const accepted: PeerConnection[] = [];
    desktop.incoming$.subscribe((connection) => {
      connection.accept?.();
      accepted.push(connection);
    });
    // A data.json written by an earlier version: the port was spelled `bindPort` then.
    const data = {
      settings: { relayMode: 'disabled', bindPort: 0, deviceName: 'Laptop' },
      peers: [{ nodeId: desktop.nodeId, name: 'Desktop', ticket: await desktop.generateTicket(), addedAt: '2026-11-25T10:00:00Z', lastSyncAt: null, autoConnect: true }],
    };
    const plugin = newPlugin(newVaultFolder(), data);
    await plugin.onload();

    expect(plugin.api).not.toBeNull();
    // Migrated to the schema the headless peer shares: one spelling of each key.
    expect((plugin.data as { settings: object }).settings).toEqual({ relayMode: 'disabled', port: 0, deviceName: 'Laptop' });
    const connected = await firstValueFrom(plugin.api!.peerStates$.pipe(filter((s) => s[0]?.status === 'connected'), timeout(10_000)));
    expect(connected[0]?.peer.name).toBe('Desktop');
    expect(plugin.statusBarItems[0]?.textContent).toBe('Peers: 1/1');
    expect(plugin.commands.map((c) => c.id)).toEqual(['add-device', 'join-device', 'open-peer-status', 'connect-all', 'disconnect-all']);
    expect(plugin.app.views.has(STATUS_VIEW_TYPE)).toBe(true);
    // An obsidian://vault-peers?invite=... link opens "Join a device" with the invite checked.
    plugin.protocolHandlers.get('vault-peers')!({ action: 'vault-peers', invite: 'VP1BROKEN' });
    const joinModal = Modal.open.at(-1)!;
    expect(joinModal.contentEl.querySelector('textarea')?.value).toBe('VP1BROKEN');
    expect(joinModal.contentEl.querySelector('.vault-peers-join-feedback')?.textContent).toMatch(/damaged/);
    joinModal.close();
    // The device key lives in device-local storage, never in data.json.
    expect(plugin.app.loadLocalStorage('vault-peers-device-key')).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(plugin.data)).not.toContain(String(plugin.app.loadLocalStorage('vault-peers-device-key')));

    const heard = next(accepted[0]!.closed$);
    plugin.unloadComponent();
    await plugin.stop();
    await expect(heard).resolves.toBe('The other device is shutting down.');
    expect(plugin.api).toBeNull();
    expect(plugin.registeredCount).toBe(0);
    expect(plugin.app.views.has(STATUS_VIEW_TYPE)).toBe(false);
    expect(document.querySelectorAll('.status-bar-item')).toHaveLength(0);
    await desktop.close();
    expect(activeTimers()).toBeLessThanOrEqual(timersBefore);
    expect(plugin.data).toMatchObject({ settings: { relayMode: 'disabled' }, peers: [expect.objectContaining({ name: 'Desktop' })] });
  });

  it('a data.json with damaged entries: one notice, a byte-for-byte backup beside it, the valid peer loads and nothing is dropped', async () => {
    Notice.shown.length = 0;
    const good = { nodeId: 'a'.repeat(64), name: 'Desktop', ticket: 'endpointx', addedAt: '2026-11-25T10:00:00Z', lastSyncAt: null, autoConnect: false };
    const data = { settings: { relayMode: 'disabled' }, peers: [good, { nodeId: 7 }, 'junk', { name: 'no id' }] };
    const vault = newVaultFolder();
    const plugin = newPlugin(vault, data);
    const text = JSON.stringify(data, null, 2);
    writeFileSync(join(vault, PLUGIN_DIR, 'data.json'), text);
    await plugin.onload();
    expect(plugin.api).not.toBeNull();
    expect(Notice.shown).toHaveLength(1);
    expect(Notice.shown[0]).toMatch(/^Vault Peers: A copy of the file as it was is kept at .*data\.json\.damaged-[0-9a-f]{12}\. Stored peer #2 was skipped.*\(and 2 more problems\)$/);
    const backups = readdirSync(join(vault, PLUGIN_DIR)).filter((name) => name.startsWith('data.json.damaged-'));
    expect(backups).toHaveLength(1);
    expect(readFileSync(join(vault, PLUGIN_DIR, backups[0]!), 'utf8')).toBe(text);
    const states = await firstValueFrom(plugin.api!.peerStates$);
    expect(states.map((s) => s.peer.name)).toEqual(['Desktop']);
    // A change is saved (a rename from the status view): the damaged entries are written back as they were, next to the changed one.
    const leaf = new WorkspaceLeaf(plugin.app);
    await leaf.setViewState({ type: STATUS_VIEW_TYPE });
    Array.from(leaf.view!.contentEl.querySelectorAll('button')).find((b) => b.textContent === 'Rename')!.click();
    const rename = Modal.open.at(-1)!;
    rename.contentEl.querySelector('input')!.value = 'Work desktop';
    Array.from(rename.contentEl.querySelectorAll('button')).find((b) => b.textContent === 'Save')!.click();
    await until(() => (plugin.data as { peers: { name?: string }[] }).peers[0]?.name === 'Work desktop');
    await leaf.detach();
    expect((plugin.data as { peers: unknown[] }).peers).toEqual([{ ...good, name: 'Work desktop' }, { nodeId: 7 }, 'junk', { name: 'no id' }]);
    plugin.unloadComponent();
    await plugin.stop();
  });

  it('on a computer with no network module it says so and stays off, without throwing', async () => {
    Notice.shown.length = 0;
    const plugin = newPlugin(newVaultFolder(false), null);
    await expect(plugin.onload()).resolves.toBeUndefined();
    expect(Notice.shown).toEqual([expect.stringMatching(/missing its network module \(iroh\..*\.node\)\. Install the release zip/)]);
    expect(plugin.api).toBeNull();
    expect(plugin.commands).toEqual([]);
    expect(plugin.app.views.size).toBe(0);
    // The settings tab still opens and shows why.
    const tab = plugin.settingTabs[0]!;
    tab.display();
    expect(tab.containerEl.querySelector('.vault-peers-error')?.textContent).toMatch(/missing its network module/);
    plugin.unloadComponent();
    await plugin.stop();
  });
});
