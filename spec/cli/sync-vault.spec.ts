/**
 * Which folder `vault-peers run` syncs, and what happens when it is not
 * there: refused folders (missing, a file, holding or inside the state
 * directory, synced by another state directory), the choice stored for the
 * next `run`, `status` with and without a vault, and a vault deleted or
 * swapped for an empty folder while `run` is up (a clear error and an exit,
 * never a delete sent to the other devices).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { markerGone } from '../../src/cli/synced-vault';
import { HeadlessPeer, cli, cliAsync, eventually } from '../support/headless';
import { newTestScheduler } from '../support/marbles';
import { inSync, pair, syncedPeers } from '../support/synced-peers';

jest.setTimeout(120_000);

const peer = syncedPeers();

const storedVault = (device: HeadlessPeer): unknown => (existsSync(join(device.dir, 'peers.json')) ? JSON.parse(device.stateFile()).settings?.vault : undefined);

/** `run` that is expected to refuse at once: its exit code and its one line of error. */
function refusedRun(dir: string, vault: string): { code: number | null; error: string } {
  const result = cli(dir, ['run', '--vault', vault, '--bind', '127.0.0.1']);
  expect(result.stdout).toBe('');
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  return { code: result.code, error: result.stderr.trim() };
}

describe('the vault run syncs', () => {
  it('refuses a folder that is missing, a file, holds the state directory or is inside it, and stores nothing', () => {
    const laptop = peer('Laptop');
    const place = mkdtempSync(join(tmpdir(), 'vp-place-'));
    try {
      writeFileSync(join(place, 'a file'), 'not a folder');
      expect(refusedRun(laptop.dir, join(place, 'missing'))).toEqual({ code: 1, error: `vault-peers: The vault ${join(place, 'missing')} does not exist. Create the folder first, or check the path.` });
      expect(refusedRun(laptop.dir, join(place, 'a file'))).toEqual({ code: 1, error: `vault-peers: The vault ${join(place, 'a file')} is a file; --vault takes the folder to keep in sync.` });
      // A state directory inside the vault would sync the device's key to the other devices.
      const inside = join(place, 'vault', '.vault-peers-state');
      mkdirSync(inside, { recursive: true });
      expect(refusedRun(inside, join(place, 'vault')).error).toMatch(/^vault-peers: The vault .*\/vault contains this device's state directory .*\. Use --dir with a directory outside the vault\.$/);
      mkdirSync(join(laptop.dir, 'notes'));
      expect(refusedRun(laptop.dir, join(laptop.dir, 'notes')).error).toMatch(/is inside the state directory .*\. Keep your notes in a folder of their own\.$/);
      expect(refusedRun(laptop.dir, laptop.dir).error).toMatch(/contains this device's state directory/);
      expect(storedVault(laptop)).toBeUndefined();
      expect(cli(laptop.dir, ['run', '--vault', '']).stderr).toMatch(/--vault needs a folder/);
    } finally {
      rmSync(place, { recursive: true, force: true });
    }
  });

  it('without a vault, run and status say that nothing is synced; the vault chosen once is stored and synced by the next run', async () => {
    const laptop = peer('Laptop');
    await laptop.start();
    expect(laptop.output).toContain('No vault is set, so nothing is synced. `vault-peers run --vault DIR` keeps DIR in sync with every paired device.');
    const running = await cliAsync(laptop.dir, ['status']);
    expect(running.stdout).toMatch(/^Laptop \([0-9a-f]{8}\) is running without a vault, so nothing is synced\.\n`vault-peers run --vault DIR` keeps DIR/);
    expect(await cliAsync(laptop.dir, ['conflicts'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/needs a synced vault, and this peer runs without one/) });
    await laptop.stop();

    await laptop.startSyncing();
    expect(storedVault(laptop)).toBe(laptop.vault.root);
    expect(laptop.lines(/^Syncing /)).toEqual([expect.stringMatching(new RegExp(`^Syncing ${laptop.vault.root} with every paired device \\(sync state in ${laptop.dir}/sync/vp-vault-Laptop-[\\w-]+\\)\\.$`))]);
    await laptop.stop();
    expect(existsSync(join(laptop.vault.root, '.vault-peers', 'folder'))).toBe(true);

    const stopped = await cliAsync(laptop.dir, ['status']);
    expect(stopped.stdout).toMatch(new RegExp(`^Laptop \\([0-9a-f]{8}\\) is not running: ${laptop.vault.root} is not being synced\\. \`vault-peers run\` syncs it\\.`));
    await laptop.startSyncing({ vault: null });
    expect(laptop.lines(/^Syncing /)).toHaveLength(2);
  });

  it('one folder is synced by one state directory at a time', async () => {
    const laptop = peer('Laptop');
    const other = peer('Other');
    await laptop.startSyncing();
    const twice = refusedRun(other.dir, laptop.vault.root);
    expect(twice.code).toBe(1);
    expect(twice.error).toMatch(/^vault-peers: The vault .* is already synced by `vault-peers run --dir .*` \(pid \d+ on .*\)\. One folder is synced by one device/);
    // Another folder is fine, with state of its own.
    await other.startSyncing();
    expect((await other.status()).stateDir).not.toBe((await laptop.status()).stateDir);
  });

  it('a vault deleted while run is up: a clear error and an exit, and the next run says the stored vault is gone', async () => {
    const laptop = peer('Laptop');
    await laptop.vault.write('note.md', 'hello\n');
    await laptop.startSyncing();
    const exited = new Promise<number | null>((resolve) => laptop.child!.once('exit', resolve));
    rmSync(laptop.vault.root, { recursive: true, force: true });
    expect(await exited).toBe(1);
    const said = laptop.output.join('\n');
    // The watcher or the marker tells first, whichever it is.
    expect(said).toMatch(/vault-peers: Stopped syncing: (The synced folder .* is gone\. Put it back|The vault .* was deleted, emptied, replaced or unmounted \(its marker \.vault-peers\/folder is gone\), so no file was deleted on your other devices)/);
    expect(said).not.toMatch(/^\s+at |Unexpected error/m);
    const again = cli(laptop.dir, ['run', '--bind', '127.0.0.1']);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(`vault-peers: The vault ${laptop.vault.root} (chosen by an earlier \`run --vault\`) does not exist. Put it back, or give its new place: vault-peers run --vault DIR`);
  });

  it('a vault swapped for an empty folder (a drive not mounted) stops the sync: the paired device keeps every file', async () => {
    const laptop = peer('Laptop');
    const desktop = peer('Desktop');
    for (const n of [1, 2, 3]) await laptop.vault.write(`note ${n}.md`, `note ${n}\n`);
    pair(laptop, desktop);
    await Promise.all([laptop.startSyncing(), desktop.startSyncing()]);
    const before = await inSync(laptop, desktop);
    expect(Object.keys(before)).toHaveLength(3);

    const exited = new Promise<number | null>((resolve) => laptop.child!.once('exit', resolve));
    await rename(laptop.vault.root, `${laptop.vault.root}.away`);
    mkdirSync(laptop.vault.root);
    try {
      expect(await exited).toBe(1);
      // The watcher (its folder moved away) or the guard (a file missing with the marker) tells first.
      expect(laptop.output.join('\n')).toMatch(/vault-peers: Stopped syncing: (The synced folder .* is gone\. Put it back|The vault .* was deleted, emptied, replaced or unmounted \(its marker \.vault-peers\/folder is gone\), so no file was deleted on your other devices)/);
      // Restarted on the empty folder, it refuses rather than sync an empty vault.
      const restarted = cli(laptop.dir, ['run', '--bind', '127.0.0.1']);
      expect(restarted.code).toBe(1);
      expect(restarted.stderr).toMatch(/was synced before but has lost its marker \.vault-peers\/folder: is it the right folder, and is its drive mounted\? Nothing was synced/);
      // The desktop lost nothing: the laptop's disconnection is noticed, and every note is still there.
      await eventually(async () => desktop.lines(/Laptop \([0-9a-f]{8}\) disconnected/).length > 0, 20_000, 'the desktop to see the laptop go');
      expect(await desktop.vault.tree()).toEqual(before);
      expect(readFileSync(desktop.vault.at('note 2.md'), 'utf8')).toBe('note 2\n');
    } finally {
      rmSync(`${laptop.vault.root}.away`, { recursive: true, force: true });
    }
  });
});

describe('what run syncs: vault-peers settings', () => {
  it('shows and stores attachments, exclude patterns and the largest file, and refuses a mistyped one (exit 64)', () => {
    const laptop = peer('Laptop');
    expect(cli(laptop.dir, ['settings']).stdout.trim().split('\n')).toEqual([
      'Attachments: synced.',
      'Largest file synced: no limit.',
      'Left out: nothing beyond hidden folders and the Obsidian config folder.',
    ]);
    cli(laptop.dir, ['settings', 'exclude', 'add', ' Private/** ']);
    cli(laptop.dir, ['settings', 'exclude', 'add', '*.mp4']);
    cli(laptop.dir, ['settings', 'exclude', 'remove', '*.mp4']);
    cli(laptop.dir, ['settings', 'attachments', 'off']);
    const last = cli(laptop.dir, ['settings', 'max-size', '1.5MB']);
    expect(last.stdout.trim().split('\n')).toEqual([
      'Attachments: not synced (notes only).',
      'Largest file synced: 1.5 MB.',
      'Left out (1): Private/**',
      'Stored; `vault-peers run` uses it from its next start.',
    ]);
    expect(JSON.parse(laptop.stateFile()).settings).toMatchObject({ exclude: ['Private/**'], attachments: false, maxFileBytes: 1_500_000 });
    for (const wrong of [['max-size', 'big'], ['max-size', '0.0001KB'], ['attachments', 'maybe'], ['exclude', 'add', '   '], ['colour', 'blue']]) {
      const refused = cli(laptop.dir, ['settings', ...wrong]);
      expect(refused.code).toBe(64);
      expect(refused.stderr).toMatch(/^vault-peers: (Usage: vault-peers settings|"[^"]*" is not a)/);
    }
    expect(JSON.parse(laptop.stateFile()).settings).toMatchObject({ exclude: ['Private/**'], attachments: false, maxFileBytes: 1_500_000 });
  });

  it('run syncs by them: what is left out stays on this device', async () => {
    const laptop = peer('Laptop');
    const desktop = peer('Desktop');
    await laptop.vault.write('note.md', '# kept\n');
    await laptop.vault.write('Private/diary.md', '# mine\n');
    await laptop.vault.write('big.md', `${'x'.repeat(3_000)}\n`);
    await laptop.vault.write('photo.png', new Uint8Array(500).fill(7));
    cli(laptop.dir, ['settings', 'exclude', 'add', 'Private/**']);
    cli(laptop.dir, ['settings', 'max-size', '2KB']);
    cli(laptop.dir, ['settings', 'attachments', 'off']);
    pair(laptop, desktop);
    await Promise.all([laptop.startSyncing(), desktop.startSyncing()]);
    await eventually(async () => ((await desktop.vault.read('note.md')) === '# kept\n' && (await laptop.syncRow(desktop))?.sync === 'live') || undefined, 60_000, 'the note on the desktop');
    expect(Object.keys(await desktop.vault.tree())).toEqual(['note.md']);
    expect(Object.keys(await laptop.vault.tree()).sort()).toEqual(['Private/diary.md', 'big.md', 'note.md', 'photo.png']);
  });
});

describe("a running peer looks for its vault's marker", () => {
  it('every few seconds, one look at a time, and says once that it is gone (marbles)', () => {
    newTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      // Each look takes 4 s here (a slow disk), longer than the 3 s between looks: they never pile up.
      const looks = [cold('4s (t|)', { t: true }), cold('4s (t|)', { t: true }), cold('1s (f|)', { f: false })];
      let asked = 0;
      const gone$ = markerGone(() => looks[asked++]!, 3_000);
      // Looks start at 3 s, 9 s (6 s fell inside the first look) and 15 s; the third finds it gone at 16 s.
      expectObservable(gone$).toBe('16s (x|)', { x: undefined });
      expectSubscriptions(looks[0]!.subscriptions).toBe('3s ^ 3999ms !');
      expectSubscriptions(looks[1]!.subscriptions).toBe('9s ^ 3999ms !');
      expectSubscriptions(looks[2]!.subscriptions).toBe('15s ^ 999ms !');
    });
  });
});
