/**
 * @jest-environment jsdom
 */
/**
 * The run the README's pictures come from (`npm run screenshots`): the
 * plugin under the specs' Obsidian stand-in and a headless peer, syncing
 * over real iroh on loopback. Along the way it saves the views' HTML as
 * they are at that moment (the status view while a large file comes in, the
 * conflicts list after both devices changed one image while apart, the
 * settings, the invite); scripts/screenshots.mjs renders each in headless
 * Chromium. Nothing shown is made up: every state is the real one.
 *
 * Run through jest (for the stand-in, jsdom and TypeScript), but not part of
 * `npm test`: it only takes pictures.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Observable } from 'rxjs';
import type { VaultSync } from '../../src/plugin/vault-sync';
import { STATUS_VIEW_TYPE } from '../../src/plugin/status-view';
import type { VaultSyncEngine } from '../../src/sync';
import { Modal, type TFile } from '../../spec/support/obsidian-mock';
import { until } from '../../spec/support/vault-files-contract';
import { newPlugin, newVaultFolder, type TestPlugin } from '../../spec/plugin/harness';
import { headlessPeer } from '../../spec/plugin/headless-peer';

jest.setTimeout(300_000);

const OUT = process.env.VAULT_PEERS_SCREENS ?? join(__dirname, '..', '..', 'dist', 'screens');

function valueOf<T>(source: Observable<T>): T | undefined {
  let value: T | undefined;
  source.subscribe((v) => (value = v)).unsubscribe();
  return value;
}

/** Saves the HTML of a screen: `body` goes inside the page scripts/screenshots.mjs wraps around it. */
function save(name: string, body: string): void {
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, `${name}.html`), body);
}

/**
 * An element's HTML with the state of its controls: a checkbox's tick and a
 * field's text are properties, which HTML leaves out unless written back as
 * attributes (on a copy; the live view is not touched).
 */
function html(el: HTMLElement, wrapper = ''): string {
  const copy = el.cloneNode(true) as HTMLElement;
  const live = el.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>('input, textarea');
  const copies = copy.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>('input, textarea');
  live.forEach((control, i) => {
    const target = copies[i]!;
    if (control instanceof HTMLTextAreaElement) target.textContent = control.value;
    else if (control.type === 'checkbox') target.toggleAttribute('checked', control.checked);
    else target.setAttribute('value', control.value);
  });
  const selects = el.querySelectorAll('select');
  copy.querySelectorAll('select').forEach((select, i) => {
    select.querySelectorAll('option').forEach((option) => option.toggleAttribute('selected', option.value === selects[i]!.value));
  });
  return wrapper ? `<div class="${wrapper}">${copy.outerHTML}</div>` : copy.outerHTML;
}

/** A small PNG-like file: the bytes only need to differ between versions. */
const image = (seed: string): Buffer => Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.from(seed.repeat(2_000))]);

it('takes the pictures from a real sync', async () => {
  const desktopRoot = await mkdtemp(join(tmpdir(), 'vp-screens-desktop-'));
  const files: Record<string, string | Buffer> = {
    'Daily/2026-11-25.md': '# Wednesday\n\n- Call the bank\n- Review the sync spec\n',
    'Projects/Vault Peers.md': '# Vault Peers\n\nPeer to peer sync for Obsidian.\n',
    'Reading list.md': '- The Pragmatic Programmer\n- Designing Data-Intensive Applications\n',
    'Images/diagram.png': image('original'),
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(desktopRoot, path)), { recursive: true });
    await writeFile(join(desktopRoot, path), content);
  }
  const desktop = await headlessPeer('Desktop', { root: desktopRoot });
  const vault = newVaultFolder();
  const plugin: TestPlugin = newPlugin(vault, { settings: { relayMode: 'disabled', port: 0, deviceName: 'Laptop', exclude: ['Private/**'] } }, { layoutReady: false });
  try {
    await plugin.onload();
    await plugin.app.startUp();
    const laptopEngine = (): VaultSyncEngine | null => (plugin as unknown as { sync: VaultSync | null }).sync?.current ?? null;
    const inStep = (): boolean => {
      const laptop = laptopEngine();
      const laptopId = desktop.manager.getPeerStates()[0]?.peer.nodeId;
      if (!laptop || !laptopId) return false;
      const live = (engine: VaultSyncEngine, other: string): boolean =>
        valueOf(engine.peers$)?.get(other)?.state === 'live' && engine.pendingFor(other).files === 0 && engine.pending().files === 0;
      return live(laptop, desktop.transport.nodeId) && live(desktop.engine, laptopId) && valueOf(plugin.api!.peerStates$)?.[0]?.status === 'connected';
    };
    const command = (id: string): void => plugin.commands.find((c) => c.id === id)!.callback();

    // Pair: the desktop's invite, opened on the laptop as an obsidian:// link.
    plugin.protocolHandlers.get('vault-peers')!({ action: 'vault-peers', invite: desktop.manager.pairing.createInvite().text });
    Array.from(Modal.open.at(-1)!.contentEl.querySelectorAll('button')).find((b) => b.textContent === 'Join')!.click();
    await until(inStep, 'the first sync', 60_000);
    Modal.open.at(-1)!.close();

    // Apart, both change the same note (different lines) and the same image.
    await desktop.manager.disconnectAll();
    command('disconnect-all');
    await until(() => valueOf(plugin.api!.peerStates$)?.[0]?.status === 'disconnected', 'disconnected', 30_000);
    const note = plugin.app.vault.getFileByPath('Daily/2026-11-25.md') as TFile;
    await plugin.app.vault.modify(note, '# Wednesday\n\n- Call the bank\n- Review the sync spec\n- Buy a USB-C cable\n');
    await plugin.app.vault.modifyBinary(plugin.app.vault.getFileByPath('Images/diagram.png') as TFile, new Uint8Array(image('laptop')).buffer);
    await writeFile(join(desktopRoot, 'Daily', '2026-11-25.md'), '# Wednesday, 25 November\n\n- Call the bank\n- Review the sync spec\n');
    await writeFile(join(desktopRoot, 'Images', 'diagram.png'), image('desktop'));
    const hashOf = (engine: VaultSyncEngine | null, path: string) => engine?.records().find((r) => r.path === path && !r.deleted)?.hash;
    const originalHash = hashOf(desktop.engine, 'Daily/2026-11-25.md');
    await until(
      () => hashOf(desktop.engine, 'Daily/2026-11-25.md') !== originalHash && hashOf(laptopEngine(), 'Daily/2026-11-25.md') !== originalHash,
      'both edits taken in',
      30_000,
    );

    // Together again: the note merges, the image keeps both versions.
    command('open-peer-status');
    await until(() => plugin.app.workspace.getLeavesOfType(STATUS_VIEW_TYPE).length > 0, 'the status view', 5_000);
    const view = plugin.app.workspace.getLeavesOfType(STATUS_VIEW_TYPE)[0]!.view!;
    command('connect-all');
    await desktop.manager.connectAll();
    await until(() => inStep() && (valueOf(plugin.api!.conflicts$)?.length ?? 0) > 0, 'the merge and the conflict copy', 60_000);

    // A large file arrives: the status view and the status bar while it comes in.
    const statusBar = (): string => html(plugin.statusBarItems[0]!, 'status-bar');
    const pane = (): string => html(view.containerEl, 'workspace-pane');
    await writeFile(join(desktopRoot, 'Talk recording.mp4'), randomBytes(24 * 1024 * 1024));
    await until(
      () => {
        const progress = view.contentEl.querySelector('.vault-peers-progress')?.textContent ?? '';
        // Somewhere in the middle of the transfer, so the picture shows it moving.
        const bytes = /, ([\d.]+) MB of ([\d.]+) MB$/.exec(progress);
        if (!bytes || Number(bytes[1]) < 0.2 * Number(bytes[2]) || Number(bytes[1]) > 0.8 * Number(bytes[2])) return false;
        save('status-view', pane() + statusBar());
        return true;
      },
      'the status view during a transfer',
      120_000,
    );
    await until(inStep, 'the large file to arrive', 120_000);
    save('conflicts-list', pane() + statusBar());

    // The settings, with the paired desktop.
    const tab = plugin.settingTabs[0]!;
    tab.display();
    save('settings-tab', html(tab.containerEl, 'modal settings'));
    tab.hide();

    // The invite this laptop shows to add another device.
    command('add-device');
    const invite = Modal.open.at(-1)!;
    await until(() => invite.contentEl.querySelector('img.vault-peers-qr')?.getAttribute('src') != null, 'the QR code', 10_000);
    save('invite-modal', html(invite.modalEl));
    invite.close();
  } finally {
    plugin.unloadComponent();
    await plugin.stop();
    await desktop.close();
  }
});
