/**
 * `vault-peers run --vault DIR` over real iroh on loopback, each peer a
 * separate process with a real folder: a vault synced into an empty one,
 * then live edits, a rename, a move and a delete, and two devices that
 * already hold the same notes meeting without duplicating anything.
 */
import { randomBytes } from 'node:crypto';
import { eventually, statusIs } from '../support/headless';
import { fileIs, inSync, pair, syncedPeers } from '../support/synced-peers';

jest.setTimeout(120_000);

const peer = syncedPeers();

const NOTES: Record<string, string> = {
  'Welcome.md': '# Welcome\n\nThis vault syncs between my devices.\n',
  'Daily/2026-11-25.md': '- [ ] water the plants\n- [x] write the report\n',
  'Projects/Vault Peers/ideas ☃.md': 'Ideas, with a snowman in the name.\n',
};

describe('a headless peer keeps a folder in sync with a paired device', () => {
  it('fills an empty vault, then carries a live edit, a rename, a move and a delete', async () => {
    const laptop = peer('Laptop');
    const desktop = peer('Desktop');
    for (const [path, text] of Object.entries(NOTES)) await laptop.vault.write(path, text);
    const picture = randomBytes(300_000);
    await laptop.vault.write('attachments/photo.png', picture);
    await laptop.vault.write('.obsidian/workspace.json', '{"this device": "only"}');
    pair(laptop, desktop);

    await Promise.all([laptop.startSyncing(), desktop.startSyncing()]);
    const tree = await inSync(laptop, desktop);
    expect(Object.keys(tree)).toEqual(['Daily/2026-11-25.md', 'Projects/Vault Peers/ideas ☃.md', 'Welcome.md', 'attachments/photo.png']);
    for (const [path, text] of Object.entries(NOTES)) expect(await desktop.vault.read(path)).toBe(text);
    expect((await desktop.vault.bytes('attachments/photo.png'))!.equals(picture)).toBe(true);
    // The config folder is each device's own.
    expect(await desktop.vault.read('.obsidian/workspace.json')).toBeNull();
    // A line per finished sync, none per file; the last sync time is stored.
    expect(desktop.lines(/Laptop \([0-9a-f]{8}\) in sync: \d+ files?/).length).toBeGreaterThan(0);
    expect(desktop.output.join('\n')).not.toMatch(/photo\.png|Welcome/);
    expect((await desktop.syncRow(laptop))?.lastSyncAt).toEqual(expect.any(String));

    // A live edit, typed on the desktop this time.
    await desktop.vault.write('Daily/2026-11-25.md', `${NOTES['Daily/2026-11-25.md']}- [ ] call the plumber\n`);
    await fileIs(laptop, 'Daily/2026-11-25.md', `${NOTES['Daily/2026-11-25.md']}- [ ] call the plumber\n`);

    // A rename in place, a move into a new folder, and a delete.
    await laptop.vault.move('Welcome.md', 'Start here.md');
    await laptop.vault.move('attachments/photo.png', 'Projects/Vault Peers/photo.png');
    await laptop.vault.remove('Projects/Vault Peers/ideas ☃.md');
    const after = await eventually(async () => {
      const t = await desktop.vault.tree();
      return Object.keys(t).join('|') === 'Daily/2026-11-25.md|Projects/Vault Peers/photo.png|Start here.md' ? t : undefined;
    }, 30_000, 'the rename, move and delete on the desktop');
    expect(await desktop.vault.read('Start here.md')).toBe(NOTES['Welcome.md']);
    expect((await desktop.vault.bytes('Projects/Vault Peers/photo.png'))!.equals(picture)).toBe(true);
    expect(after).toEqual(await inSync(laptop, desktop));
  });

  it('two devices that already hold the same notes meet without duplicating a line or making a conflict copy', async () => {
    const laptop = peer('Laptop');
    const desktop = peer('Desktop');
    // The same vault on both (copied by hand before installing Vault Peers), plus a note only the laptop has.
    for (const device of [laptop, desktop]) {
      for (const [path, text] of Object.entries(NOTES)) await device.vault.write(path, text);
      await device.vault.write('attachments/scan.pdf', Buffer.from('%PDF-1.7 the same scan on both\n'));
    }
    await laptop.vault.write('Only on the laptop.md', 'new\n');
    pair(laptop, desktop);
    await Promise.all([laptop.startSyncing(), desktop.startSyncing()]);

    const tree = await inSync(laptop, desktop);
    expect(Object.keys(tree)).toEqual(['Daily/2026-11-25.md', 'Only on the laptop.md', 'Projects/Vault Peers/ideas ☃.md', 'Welcome.md', 'attachments/scan.pdf']);
    for (const device of [laptop, desktop]) {
      for (const [path, text] of Object.entries(NOTES)) expect(await device.vault.read(path)).toBe(text);
      expect((await device.conflicts()).conflicts).toEqual([]);
    }
    // Still live afterwards: an edit on one side reaches the other once, not twice.
    await desktop.vault.write('Welcome.md', `${NOTES['Welcome.md']}Edited after pairing.\n`);
    await fileIs(laptop, 'Welcome.md', `${NOTES['Welcome.md']}Edited after pairing.\n`);
    await statusIs(laptop, desktop, 'connected');
  });
});
