/**
 * @jest-environment jsdom
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, type Observable } from 'rxjs';
import type { VaultPeersSyncEvent } from '../../src/plugin/api';
import type { VaultSync } from '../../src/plugin/vault-sync';
import type { VaultSyncEngine } from '../../src/sync';
import { MarkdownView, Modal, type TFile } from '../support/obsidian-mock';
import { activeTimers, next } from '../support/iroh';
import { until } from '../support/vault-files-contract';
import { newPlugin, newVaultFolder } from './harness';
import { headlessPeer } from './headless-peer';

jest.setTimeout(120_000);

/** What an observable that replays its latest value holds now. */
function valueOf<T>(source: Observable<T>): T | undefined {
  let value: T | undefined;
  source.subscribe((v) => (value = v)).unsubscribe();
  return value;
}

const read = (path: string): string | null => (existsSync(path) ? readFileSync(path, 'utf8') : null);

/** Deleting a database is blocked while anything still holds a connection to it. */
function deleteDatabase(name: string): Promise<'deleted' | 'blocked'> {
  return new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(name);
    request.onblocked = () => resolve('blocked');
    request.onsuccess = () => resolve('deleted');
  });
}

describe('the plugin syncing a vault with a headless peer (real iroh on loopback, the engine on a real folder)', () => {
  // A failed spec still closes both devices, so jest is not held open by their endpoints.
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
    MarkdownView.saveDelayMs = 2_000;
  });

  it('pairs, receives a note, merges typing in an open editor with a remote edit, sends a rename and a delete, keeps an excluded file home, and unloads to nothing', async () => {
    const timersBefore = activeTimers();
    // Obsidian saves an editor about 2 s after typing stops; here not within the spec's waits, so what
    // reaches the desktop while the note is open can only have come from the editor, not from a save.
    MarkdownView.saveDelayMs = 600_000;
    const desktopRoot = await mkdtemp(join(tmpdir(), 'vp-desktop-'));
    await mkdir(join(desktopRoot, 'Daily'));
    await writeFile(join(desktopRoot, 'Daily', '2026-11-25.md'), 'Morning notes\n');
    await writeFile(join(desktopRoot, 'Trash me.md'), 'old\n');
    const desktop = await headlessPeer('Desktop', { root: desktopRoot });
    cleanups.push(() => desktop.close());

    const vault = newVaultFolder();
    const plugin = newPlugin(vault, { settings: { relayMode: 'disabled', port: 0, deviceName: 'Laptop', exclude: ['Private/**'] } }, { layoutReady: false });
    await plugin.onload();
    cleanups.push(() => plugin.stop());
    await plugin.app.startUp();
    // Another plugin listens to the sync as the README shows.
    const events: VaultPeersSyncEvent[] = [];
    let eventsEnded = false;
    plugin.api!.syncEvents$.subscribe({ next: (event) => events.push(event), complete: () => (eventsEnded = true) });
    /** Both sides connected and live: no sync running, nothing the other has not confirmed, nothing left to write. */
    const syncedWithDesktop = (): boolean => {
      const laptop = (plugin as unknown as { sync: VaultSync | null }).sync?.current;
      const laptopId = desktop.manager.getPeerStates()[0]?.peer.nodeId;
      if (!laptop || !laptopId) return false;
      const live = (engine: VaultSyncEngine, other: string): boolean =>
        valueOf(engine.peers$)?.get(other)?.state === 'live' && engine.pendingFor(other).files === 0 && engine.pending().files === 0;
      return (
        live(laptop, desktop.transport.nodeId) &&
        live(desktop.engine, laptopId) &&
        valueOf(plugin.api!.peerStates$)?.[0]?.status === 'connected' &&
        desktop.manager.getPeerStates()[0]?.status === 'connected'
      );
    };

    // Desktop shows an invite; on the laptop, its obsidian:// link opens "Join a device" and the person presses Join.
    const invite = desktop.manager.pairing.createInvite();
    plugin.protocolHandlers.get('vault-peers')!({ action: 'vault-peers', invite: invite.text });
    Array.from(Modal.open.at(-1)!.contentEl.querySelectorAll('button')).find((b) => b.textContent === 'Join')!.click();
    const notePath = join(vault, 'Daily', '2026-11-25.md');
    await until(() => read(notePath) === 'Morning notes\n' && read(join(vault, 'Trash me.md')) === 'old\n', 'the notes to arrive in the vault', 60_000);
    Modal.open.at(-1)!.close();
    // Through the vault API: Obsidian's cache knows the note.
    const file = plugin.app.vault.getFileByPath('Daily/2026-11-25.md') as TFile;
    expect(file).not.toBeNull();

    // The person opens the note and types a line under it while, on the desktop, another program edits its first line.
    const leaf = plugin.app.workspace.getLeaf();
    await leaf.openFile(file);
    const view = leaf.view as MarkdownView;
    view.editor.setCursor({ line: 1, ch: 0 });
    view.editor.replaceSelection('- typed on the laptop');
    await writeFile(join(desktopRoot, 'Daily', '2026-11-25.md'), 'Morning notes, edited on the desktop\n');
    const merged = 'Morning notes, edited on the desktop\n- typed on the laptop';
    await until(
      () => view.editor.getValue() === merged && read(join(desktopRoot, 'Daily', '2026-11-25.md')) === merged,
      'both edits in the editor on the laptop and on the desktop',
      60_000,
    );
    // The typing went out from the editor (the laptop's file has not been saved yet), and the desktop's edit came in
    // as an edit: the cursor is still after the typed text, and the editor was never reloaded from the file.
    expect(read(notePath)).toBe('Morning notes\n');
    expect(view.editor.getCursor()).toEqual({ line: 1, ch: '- typed on the laptop'.length });
    expect(view.reloads).toBe(0);
    // Obsidian saves the editor: both edits are on the laptop's disk too, and nothing goes back and forth over it.
    await view.save();
    expect(read(notePath)).toBe(merged);
    await until(() => syncedWithDesktop(), 'the laptop and the desktop in step after the save', 60_000);
    expect(read(join(desktopRoot, 'Daily', '2026-11-25.md'))).toBe(merged);
    expect(view.editor.getValue()).toBe(merged);

    // A rename and a delete made in the vault reach the desktop's folder.
    await plugin.app.fileManager.renameFile(file, 'Daily/Renamed.md');
    await plugin.app.fileManager.trashFile(plugin.app.vault.getFileByPath('Trash me.md')!);
    // A file under an excluded folder is made, then an ordinary one after it.
    await plugin.app.vault.createFolder('Private');
    await plugin.app.vault.create('Private/secret.md', 'stays on the laptop\n');
    await plugin.app.vault.create('Public.md', 'goes everywhere\n');
    await until(
      () =>
        read(join(desktopRoot, 'Daily', 'Renamed.md')) === merged &&
        !existsSync(join(desktopRoot, 'Daily', '2026-11-25.md')) &&
        !existsSync(join(desktopRoot, 'Trash me.md')) &&
        read(join(desktopRoot, 'Public.md')) === 'goes everywhere\n',
      'the rename, the delete and the new note on the desktop',
      60_000,
    );
    await until(() => syncedWithDesktop(), 'the sync with the desktop to finish', 60_000);
    // The excluded note, made before the one that arrived, never left; nor did anything in the config folder (data.json, the plugin).
    expect(existsSync(join(desktopRoot, 'Private'))).toBe(false);
    expect(existsSync(join(desktopRoot, '.obsidian'))).toBe(false);
    expect(desktop.engine.records().map((r) => r.path)).not.toContain('Private/secret.md');
    expect(read(join(vault, 'Private', 'secret.md'))).toBe('stays on the laptop\n');
    const states = await firstValueFrom(plugin.api!.peerStates$);
    expect(states[0]!.peer.lastSyncAt).not.toBeNull();
    const fromDesktop = events.filter((e) => e.nodeId === desktop.transport.nodeId);
    expect(fromDesktop.map((e) => e.type)).toEqual(expect.arrayContaining(['started', 'progress', 'finished']));
    expect(fromDesktop.at(-1)?.type).toBe('finished');

    // Unloading leaves nothing running: no subscription, timer, editor extension, vault listener, socket, endpoint or database connection.
    const desktopSide = desktop.manager.getPeerStates()[0]!.connection!;
    const heard = next(desktopSide.closed$);
    await leaf.detach();
    plugin.unloadComponent();
    await plugin.stop();
    await expect(heard).resolves.toBe('The other device is shutting down.');
    expect(eventsEnded).toBe(true);
    expect(plugin.registeredCount).toBe(0);
    expect(plugin.app.editorExtensions.count).toBe(0);
    for (const name of ['create', 'modify', 'delete', 'rename']) expect(plugin.app.vault.handlerCount(name)).toBe(0);
    expect(await deleteDatabase(`vault-peers-sync-${String(plugin.app.loadLocalStorage('vault-peers-sync-store'))}`)).toBe('deleted');
    await desktop.close();
    await until(() => activeTimers() <= timersBefore, 'every timer to stop', 5_000);
  });
});
