/**
 * Both devices changed the same file while apart, over real iroh with real
 * folders: a note merges with each edit exactly once and no conflict file;
 * an attachment keeps both versions, the older as a Syncthing-named conflict
 * copy that `vault-peers conflicts` lists and `vault-peers resolve` settles
 * on both devices.
 */
import { randomBytes } from 'node:crypto';
import { cliAsync, eventually } from '../support/headless';
import { fileIs, inSync, pair, syncedPeers, type SyncedPeer } from '../support/synced-peers';

jest.setTimeout(120_000);

const peer = syncedPeers();

const NOTE = ['# Shopping', '', '- bread', '- milk', '- eggs', '', 'Notes:', 'shop on Saturday', ''].join('\n');

async function syncedPair(): Promise<[SyncedPeer, SyncedPeer]> {
  const laptop = peer('Laptop');
  const desktop = peer('Desktop');
  pair(laptop, desktop);
  return [laptop, desktop];
}

describe('changes made on both devices while apart', () => {
  it('offline edits of one note on both sides merge, each edit exactly once, with no conflict file', async () => {
    const [laptop, desktop] = await syncedPair();
    await laptop.vault.write('Shopping.md', NOTE);
    await Promise.all([laptop.startSyncing(), desktop.startSyncing()]);
    await inSync(laptop, desktop);
    await Promise.all([laptop.stop(), desktop.stop()]);

    // Apart: each edits a different part of the note.
    await laptop.vault.write('Shopping.md', NOTE.replace('- milk', '- oat milk LAPTOP-EDIT'));
    await desktop.vault.write('Shopping.md', NOTE.replace('shop on Saturday', 'shop on Sunday DESKTOP-EDIT'));
    // Started without --vault: the stored vault is synced.
    await Promise.all([laptop.startSyncing({ vault: null }), desktop.startSyncing({ vault: null })]);

    const tree = await inSync(laptop, desktop);
    const merged = NOTE.replace('- milk', '- oat milk LAPTOP-EDIT').replace('shop on Saturday', 'shop on Sunday DESKTOP-EDIT');
    expect(await laptop.vault.read('Shopping.md')).toBe(merged);
    expect(await desktop.vault.read('Shopping.md')).toBe(merged);
    expect(Object.keys(tree)).toEqual(['Shopping.md']);
    // Both devices say where they merged, naming the other device.
    await eventually(async () => laptop.lines(/merged concurrent edits from Desktop \([0-9a-f]{8}\) in "Shopping\.md"/).length > 0 || desktop.lines(/merged concurrent edits from Laptop/).length > 0);
  });

  it('different versions of an attachment keep both, the older as a Syncthing-named conflict copy, listed and resolved', async () => {
    const [laptop, desktop] = await syncedPair();
    await laptop.vault.write('img/diagram.png', randomBytes(50_000));
    await Promise.all([laptop.startSyncing(), desktop.startSyncing()]);
    await inSync(laptop, desktop);
    await Promise.all([laptop.stop(), desktop.stop()]);

    const older = randomBytes(60_000);
    const newer = randomBytes(70_000);
    await laptop.vault.write('img/diagram.png', older);
    await desktop.vault.write('img/diagram.png', newer);
    // A change made while the peer was stopped is stamped when its start-up scan finds it: the desktop's, found
    // last, is the newer one. (Started together, either could be; see the report on stamps and mtimes.)
    await laptop.startSyncing({ vault: null });
    await desktop.startSyncing({ vault: null });

    const tree = await inSync(laptop, desktop);
    const copies = Object.keys(tree).filter((path) => path !== 'img/diagram.png');
    expect(copies).toEqual([expect.stringMatching(/^img\/diagram\.sync-conflict-\d{8}-\d{6}-[0-9A-Z]{7}\.png$/)]);
    const copy = copies[0]!;
    for (const device of [laptop, desktop]) {
      expect((await device.vault.bytes('img/diagram.png'))!.equals(newer)).toBe(true);
      expect((await device.vault.bytes(copy))!.equals(older)).toBe(true);
      expect(await device.conflicts()).toEqual({ vault: device.vault.root, conflicts: [{ copy, original: 'img/diagram.png', originalExists: true }] });
      expect((await device.status()).conflicts).toBe(1);
    }

    // The person reads the list and keeps the copy (by its file name alone, as they would type it).
    const listed = await cliAsync(laptop.dir, ['conflicts']);
    expect(listed.stdout).toContain(`"${copy}"  beside "img/diagram.png"`);
    expect(listed.stdout).toContain('vault-peers resolve <copy> copy|original|both');
    const resolved = await cliAsync(laptop.dir, ['resolve', copy.split('/').pop()!, 'copy']);
    expect(resolved).toMatchObject({ code: 0 });
    expect(resolved.stdout).toContain('the copy replaced the file');
    await eventually(async () => (await desktop.vault.tree())[copy] === undefined && (await desktop.vault.bytes('img/diagram.png'))?.equals(older), 30_000, 'the resolution on the desktop');
    const settled = await inSync(laptop, desktop);
    expect(Object.keys(settled)).toEqual(['img/diagram.png']);
    expect((await desktop.conflicts()).conflicts).toEqual([]);

    const none = await cliAsync(desktop.dir, ['resolve', 'nothing-like-it.png', 'both']);
    expect(none).toMatchObject({ code: 1 });
    expect(none.stderr).toMatch(/No conflict copy matches "nothing-like-it\.png"\. `vault-peers conflicts` lists them\./);
    await fileIs(desktop, 'img/diagram.png', (text) => text !== null);
  });
});
