/**
 * @jest-environment jsdom
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { firstValueFrom, type Observable } from 'rxjs';
import type { VaultPeersSyncEvent } from '../../src/plugin/api';
import type { VaultSync } from '../../src/plugin/vault-sync';
import type { VaultSyncEngine } from '../../src/sync';
import { MarkdownView, Modal, type TFile } from '../support/obsidian-mock';
import { STATUS_VIEW_TYPE } from '../../src/plugin/status-view';
import { activeTimers, next } from '../support/iroh';
import { until } from '../support/vault-files-contract';
import { newPlugin, newVaultFolder, type TestPlugin } from './harness';
import { headlessPeer } from './headless-peer';

jest.setTimeout(120_000);

/** What an observable that replays its latest value holds now. */
function valueOf<T>(source: Observable<T>): T | undefined {
  let value: T | undefined;
  source.subscribe((v) => (value = v)).unsubscribe();
  return value;
}

const read = (path: string): string | null => (existsSync(path) ? readFileSync(path, 'utf8') : null);

type Desktop = Awaited<ReturnType<typeof headlessPeer>>;

/** The laptop's sync engine, once open. */
function engineOf(plugin: TestPlugin): VaultSyncEngine | null {
  return (plugin as unknown as { sync: VaultSync | null }).sync?.current ?? null;
}

/** The laptop's node id, as the desktop knows it. */
function laptopIdOn(desktop: Desktop): string | undefined {
  return desktop.manager.getPeerStates()[0]?.peer.nodeId;
}

/** Both sides connected and live: no sync running, nothing the other has not confirmed, nothing left to write. */
function inStep(plugin: TestPlugin, desktop: Desktop): boolean {
  const laptop = engineOf(plugin);
  const laptopId = laptopIdOn(desktop);
  if (!laptop || !laptopId || !plugin.api) return false;
  const live = (engine: VaultSyncEngine, other: string): boolean =>
    valueOf(engine.peers$)?.get(other)?.state === 'live' && engine.pendingFor(other).files === 0 && engine.pending().files === 0;
  return (
    live(laptop, desktop.transport.nodeId) &&
    live(desktop.engine, laptopId) &&
    valueOf(plugin.api.peerStates$)?.[0]?.status === 'connected' &&
    desktop.manager.getPeerStates()[0]?.status === 'connected'
  );
}

/** The desktop shows an invite; on the laptop, its obsidian:// link opens "Join a device" and the person presses Join. */
function joinDesktop(plugin: TestPlugin, desktop: Desktop): void {
  const invite = desktop.manager.pairing.createInvite();
  plugin.protocolHandlers.get('vault-peers')!({ action: 'vault-peers', invite: invite.text });
  const modal = Modal.open.at(-1)!;
  Array.from(modal.contentEl.querySelectorAll('button')).find((b) => b.textContent === 'Join')!.click();
}

/** A desktop folder holding `files`. */
async function desktopFolder(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'vp-desktop-'));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return root;
}

const LAPTOP_SETTINGS = { relayMode: 'disabled', port: 0, deviceName: 'Laptop' };

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

  async function newDesktop(files: Record<string, string>): Promise<Desktop> {
    const desktop = await headlessPeer('Desktop', { root: await desktopFolder(files) });
    cleanups.push(() => desktop.close());
    return desktop;
  }

  /** The plugin loading as Obsidian starts over `vault`, with `data` as its data.json and `local` as the device-local storage. */
  async function startLaptop(vault: string, data: unknown, local = new Map<string, unknown>()): Promise<TestPlugin> {
    const plugin = newPlugin(vault, data, { layoutReady: false, localStorage: local });
    await plugin.onload();
    cleanups.push(() => plugin.stop());
    await plugin.app.startUp();
    return plugin;
  }

  it('pairs, receives a note, merges typing in an open editor with a remote edit, sends a rename and a delete, keeps an excluded file home, and unloads to nothing', async () => {
    const timersBefore = activeTimers();
    // Obsidian saves an editor about 2 s after typing stops; here not within the spec's waits, so what
    // reaches the desktop while the note is open can only have come from the editor, not from a save.
    MarkdownView.saveDelayMs = 600_000;
    const desktop = await newDesktop({ 'Daily/2026-11-25.md': 'Morning notes\n', 'Trash me.md': 'old\n' });
    const desktopRoot = desktop.root;
    const vault = newVaultFolder();
    const plugin = await startLaptop(vault, { settings: { ...LAPTOP_SETTINGS, exclude: ['Private/**'] } });
    // Another plugin listens to the sync as the README shows.
    const events: VaultPeersSyncEvent[] = [];
    let eventsEnded = false;
    plugin.api!.syncEvents$.subscribe({ next: (event) => events.push(event), complete: () => (eventsEnded = true) });
    const syncedWithDesktop = (): boolean => inStep(plugin, desktop);

    joinDesktop(plugin, desktop);
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
  it('finds at start-up what changed in the vault while Obsidian was closed (an edit, a new note, a delete) and sends it', async () => {
    const desktop = await newDesktop({ 'Notes/a.md': 'A\n', 'b.md': 'B\n' });
    const vault = newVaultFolder();
    const local = new Map<string, unknown>();
    const first = await startLaptop(vault, { settings: LAPTOP_SETTINGS }, local);
    joinDesktop(first, desktop);
    await until(() => read(join(vault, 'b.md')) === 'B\n' && inStep(first, desktop), 'the first sync', 60_000);
    Modal.open.at(-1)!.close();
    first.unloadComponent();
    await first.stop();

    // Obsidian is closed; another program changes the vault. No vault event tells anyone.
    await writeFile(join(vault, 'Notes', 'a.md'), 'A, edited while Obsidian was closed\n');
    await writeFile(join(vault, 'new.md'), 'made while Obsidian was closed\n');
    await rm(join(vault, 'b.md'));

    // Obsidian starts again: the same device (its key and sync store in device-local storage), its peers from data.json.
    const again = await startLaptop(vault, first.data, local);
    await until(
      () =>
        read(join(desktop.root, 'Notes', 'a.md')) === 'A, edited while Obsidian was closed\n' &&
        read(join(desktop.root, 'new.md')) === 'made while Obsidian was closed\n' &&
        !existsSync(join(desktop.root, 'b.md')) &&
        inStep(again, desktop),
      'the changes made while Obsidian was closed on the desktop',
      60_000,
    );
    // A delete can only be told by a store that knew the file: the store was trusted (same device), not rebuilt.
    expect(desktop.engine.records().find((r) => r.path === 'b.md')?.deleted).toBe(true);
    expect(read(join(vault, 'b.md'))).toBeNull();
  });

  it('"Sync" off for a device keeps it paired and connected while no file goes either way; on again, both catch up', async () => {
    const desktop = await newDesktop({ 'shared.md': 'both have this\n' });
    const vault = newVaultFolder();
    const plugin = await startLaptop(vault, { settings: LAPTOP_SETTINGS });
    joinDesktop(plugin, desktop);
    await until(() => read(join(vault, 'shared.md')) === 'both have this\n' && inStep(plugin, desktop), 'the first sync', 60_000);
    Modal.open.at(-1)!.close();
    const laptopId = laptopIdOn(desktop)!;

    // The person turns "Sync" off in the desktop's row of the status view.
    plugin.commands.find((c) => c.id === 'open-peer-status')!.callback();
    await until(() => plugin.app.workspace.getLeavesOfType(STATUS_VIEW_TYPE).length > 0, 'the status view', 5_000);
    const view = plugin.app.workspace.getLeavesOfType(STATUS_VIEW_TYPE)[0]!.view!;
    const syncBox = (): HTMLInputElement => view.contentEl.querySelector<HTMLInputElement>(`[data-node-id="${desktop.transport.nodeId}"] .vault-peers-sync-toggle input`)!;
    expect(syncBox().checked).toBe(true);
    syncBox().checked = false;
    syncBox().dispatchEvent(new Event('change'));
    // The desktop is told why, and both stay connected.
    await until(
      () =>
        valueOf(desktop.engine.activityLog$)!.some((entry) => /^The other device \([0-9a-f]{8}\) stopped syncing: sync with this device is turned off on Laptop\.$/.test(entry.message)) &&
        desktop.manager.getPeerStates()[0]?.status === 'connected' &&
        valueOf(plugin.api!.peerStates$)?.[0]?.status === 'connected',
      'the desktop told that the laptop does not sync with it',
      60_000,
    );
    expect(view.contentEl.querySelector(`[data-node-id="${desktop.transport.nodeId}"] .vault-peers-badge-off`)?.textContent).toBe('Sync off');
    expect((plugin.data as { settings: { syncOff: string[] } }).settings.syncOff).toEqual([desktop.transport.nodeId]);

    // Each side makes a note; each engine takes its own in, and neither is sent.
    await plugin.app.vault.create('from-laptop.md', 'laptop only, for now\n');
    await writeFile(join(desktop.root, 'from-desktop.md'), 'desktop only, for now\n');
    await until(
      () => engineOf(plugin)!.records().some((r) => r.path === 'from-laptop.md') && desktop.engine.records().some((r) => r.path === 'from-desktop.md'),
      'each side to take in its own note',
      30_000,
    );
    expect(valueOf(engineOf(plugin)!.peers$)?.get(desktop.transport.nodeId)?.state ?? 'stopped').toBe('stopped');
    expect(valueOf(desktop.engine.peers$)?.get(laptopId)?.state).toBe('stopped');
    expect(existsSync(join(desktop.root, 'from-laptop.md'))).toBe(false);
    expect(existsSync(join(vault, 'from-desktop.md'))).toBe(false);

    // On again: the device reconnects and both notes cross.
    syncBox().checked = true;
    syncBox().dispatchEvent(new Event('change'));
    await until(
      () => read(join(desktop.root, 'from-laptop.md')) === 'laptop only, for now\n' && read(join(vault, 'from-desktop.md')) === 'desktop only, for now\n' && inStep(plugin, desktop),
      'both notes on both sides',
      60_000,
    );
    expect((plugin.data as { settings: { syncOff: string[] } }).settings.syncOff).toEqual([]);
  });
});
