import { chmodSync, chownSync, closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, writeSync } from 'node:fs';
import { link, lstat, mkdir, mkdtemp, open, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { identityOf, replaceNoting, type Place } from '../../src/cli/vault-folder-cas';
import { FolderError, VaultPathError, hostError } from '../../src/cli/vault-folder-errors';
import { mergeLateWrite } from '../../src/cli/vault-folder-late';
import { NodeVaultFiles } from '../../src/cli/vault-folder';
import { contentHash } from '../../src/sync/hash';
import type { FileChange } from '../../src/sync/ports';
import { ChildScript } from '../support/child-script';
import { liveWatch, until, vaultFilesContract, type VaultFilesHarness } from '../support/vault-files-contract';

const LINUX = process.platform === 'linux';

interface FolderHarness extends VaultFilesHarness {
  readonly files: NodeVaultFiles;
  readonly base: string;
  readonly root: string;
  /** A folder beside the vault with one file, `secret`: nothing may ever change here. */
  readonly outside: string;
}

async function namesUnder(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    out.push(path);
    if (entry.isDirectory()) out.push(...(await namesUnder(join(dir, entry.name), path)));
  }
  return out.sort();
}

async function folderHarness(): Promise<FolderHarness> {
  const base = await mkdtemp(join(tmpdir(), 'vp-folder-'));
  const root = join(base, 'vault');
  const outside = join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
  await writeFile(join(outside, 'secret'), 'do not touch');
  const at = (path: string) => join(root, ...path.split('/'));
  return {
    files: await NodeVaultFiles.open(root),
    base,
    root,
    outside,
    async put(path, content) {
      await mkdir(dirname(at(path)), { recursive: true });
      await writeFile(at(path), content);
    },
    del: (path) => rm(at(path)),
    async get(path) {
      try {
        return new Uint8Array(await readFile(at(path)));
      } catch {
        return null;
      }
    },
    folders: async () => {
      const names = await namesUnder(root);
      const folders: string[] = [];
      for (const name of names) if ((await lstat(at(name))).isDirectory() && !name.startsWith('.vault-peers')) folders.push(name);
      return folders;
    },
    names: async () => (await namesUnder(root)).filter((name) => !name.startsWith('.vault-peers/') && name !== '.vault-peers'),
    symlink: (path, target) => symlink(target, at(path)),
    mkdir: (path) => mkdir(at(path), { recursive: true }).then(() => undefined),
    dispose: () => rm(base, { recursive: true, force: true }),
  };
}

vaultFilesContract('NodeVaultFiles on a real folder', folderHarness);

/** Bytes of the large staged file: position-dependent, so a chunk written at the wrong offset shows. */
const pattern = (p: number): number => (p % 251) ^ (Math.floor(p / 65_536) & 0xff);
function patternBytes(offset: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 1) bytes[i] = pattern(offset + i);
  return bytes;
}

describe('NodeVaultFiles on a real folder', () => {
  let h: FolderHarness;
  beforeEach(async () => {
    h = await folderHarness();
  });
  afterEach(async () => {
    await h.dispose();
  });

  async function outsideUntouched(): Promise<void> {
    expect(await namesUnder(h.outside)).toEqual(['secret']);
    expect(await readFile(join(h.outside, 'secret'), 'utf8')).toBe('do not touch');
  }

  describe('paths that leave the folder are refused, and nothing is touched', () => {
    const bad = [
      '../outside/secret',
      '../../etc/passwd',
      '/etc/passwd',
      'a/../../outside/secret',
      'a/./b',
      'a\0b',
      '',
      'a//b',
      'a/',
      'C:/Windows/x',
      '.vault-peers/staging/x',
      'a/.vault-peers-tmp-1-abc',
    ];

    it.each(bad)('%j', async (path) => {
      await h.put('a/b', 'b');
      const key = 'k'.repeat(64);
      await h.files.writeStaged(key, 0, new Uint8Array([1]));
      const calls: Array<() => Promise<unknown>> = [
        () => h.files.stat(path),
        () => h.files.read(path),
        () => h.files.readRange(path, 0, 10),
        () => h.files.writeText(path, 'x', { kind: 'absent' }),
        () => h.files.writeText(path, 'x', { kind: 'text', text: 'do not touch' }),
        () => h.files.remove(path, { kind: 'text', text: 'do not touch' }),
        () => h.files.rename(path, 'stolen.md'),
        () => h.files.rename('a/b', path),
        () => h.files.commitStaged(key, path, { kind: 'absent' }),
      ];
      for (const call of calls) await expect(call()).rejects.toBeInstanceOf(VaultPathError);
      await outsideUntouched();
      expect(await h.names()).toEqual(['a', 'a/b']);
      expect(await h.files.stagedLength(key)).toBe(1);
    });

    it('says which path and why, with the path made safe to print', async () => {
      await expect(h.files.read('../x\u001b[2J')).rejects.toThrow('Refused the path "../x [2J": it has a "." or ".." segment');
    });

    it('a symlinked folder pointing outside is followed for nothing', async () => {
      await symlink(h.outside, join(h.root, 'link'));
      await h.put('a.md', 'a');
      const key = 'k'.repeat(64);
      await h.files.writeStaged(key, 0, new Uint8Array([1]));
      const refused: Array<() => Promise<unknown>> = [
        () => h.files.stat('link/secret'),
        () => h.files.read('link/secret'),
        () => h.files.readRange('link/secret', 0, 4),
        () => h.files.writeText('link/new.md', 'x', { kind: 'absent' }),
        () => h.files.writeText('link/secret', 'x', { kind: 'text', text: 'do not touch' }),
        () => h.files.writeText('link/deeper/new.md', 'x', { kind: 'absent' }),
        () => h.files.remove('link/secret', { kind: 'text', text: 'do not touch' }),
        () => h.files.rename('link/secret', 'stolen.md'),
        () => h.files.rename('a.md', 'link/a.md'),
        () => h.files.commitStaged(key, 'link/blob.bin', { kind: 'absent' }),
      ];
      for (const call of refused) await expect(call()).rejects.toThrow(/"link" on the way is a symbolic link/);
      expect((await h.files.list()).map((f) => f.path)).toEqual(['a.md']);
      await outsideUntouched();
      expect(await readFile(join(h.root, 'a.md'), 'utf8')).toBe('a');
      expect(await readlink(join(h.root, 'link'))).toBe(h.outside);
    });

    it('a file that is a link is neither read, replaced nor deleted', async () => {
      await symlink(join(h.outside, 'secret'), join(h.root, 'note.md'));
      for (const call of [
        () => h.files.stat('note.md'),
        () => h.files.read('note.md'),
        () => h.files.writeText('note.md', 'x', { kind: 'absent' }),
        () => h.files.writeText('note.md', 'x', { kind: 'text', text: 'do not touch' }),
        () => h.files.remove('note.md', { kind: 'text', text: 'do not touch' }),
        () => h.files.remove('note.md', { kind: 'absent' }),
        () => h.files.rename('note.md', 'other.md'),
      ]) {
        await expect(call()).rejects.toThrow(/"note.md": it is a symbolic link/);
      }
      await outsideUntouched();
      expect(await readlink(join(h.root, 'note.md'))).toBe(join(h.outside, 'secret'));
    });

    it('a staging folder that is a link is not written through', async () => {
      await symlink(h.outside, join(h.root, '.vault-peers'));
      await expect(h.files.writeStaged('k', 0, new Uint8Array([1]))).rejects.toBeInstanceOf(VaultPathError);
      await expect(h.files.listStaged()).rejects.toBeInstanceOf(VaultPathError);
      await outsideUntouched();
    });

    it('a FIFO where a note was does not block a read', async () => {
      if (!LINUX) return;
      execFileSync('mkfifo', [join(h.root, 'pipe.md')]);
      expect(await h.files.read('pipe.md')).toBeNull();
      expect(await h.files.stat('pipe.md')).toBeNull();
      expect(await h.files.writeText('pipe.md', 'x', { kind: 'text', text: '' })).toBe(false);
      expect(await h.files.list()).toEqual([]);
    });

    it('a link swapped in for a folder while writes run never lets a write out (kill-free race, real process)', async () => {
      if (!LINUX) return; // elsewhere the adapter checks with lstat, and the race it leaves is documented
      await mkdir(join(h.root, 'sub'));
      // Another process swaps `sub` between the real folder and a link to outside, as fast as it can.
      const swapper = new ChildScript(`
        import { renameSync, symlinkSync, unlinkSync, existsSync, rmSync } from 'node:fs';
        const [root, outside] = process.argv.slice(2);
        let swaps = 0;
        for (;;) {
          try {
            renameSync(root + '/sub', root + '/.held');
            symlinkSync(outside, root + '/sub');
            unlinkSync(root + '/sub');
            renameSync(root + '/.held', root + '/sub');
            swaps += 1;
            if (swaps % 200 === 0) console.log('swaps ' + swaps);
          } catch {
            // The adapter may have made a folder 'sub' of its own for a write while the real one was held aside:
            // put the real one back over it, or every later swap fails and the race stops being run.
            if (existsSync(root + '/.held')) { try { rmSync(root + '/sub', { recursive: true, force: true }); renameSync(root + '/.held', root + '/sub'); } catch {} }
          }
        }
      `);
      const child = swapper.start([h.root, h.outside]);
      try {
        await child.waitFor((lines) => lines.length > 0, 'the swapper to start');
        let refused = 0;
        let written = 0;
        // At least 300 rounds, and on until the race has gone both ways (a busy machine may schedule the swapper rarely).
        for (let i = 0; i < 300 || ((refused === 0 || written === 0) && i < 3_000); i += 1) {
          const results = await Promise.allSettled([
            h.files.writeText(`sub/note-${i}.md`, 'x', { kind: 'absent' }),
            h.files.read('sub/secret'),
            h.files.remove('sub/secret', { kind: 'text', text: 'do not touch' }),
            h.files.list(),
          ]);
          if (results[0].status === 'fulfilled' && results[0].value) written += 1;
          refused += results.filter((r) => r.status === 'rejected' && r.reason instanceof VaultPathError).length;
          for (const result of results) if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(Error);
          const listed = results[3].status === 'fulfilled' ? results[3].value : [];
          expect(listed.some((f) => f.path.endsWith('secret'))).toBe(false);
        }
        // The race was really run: some calls met the link, some got through the real folder.
        expect(refused).toBeGreaterThan(0);
        expect(written).toBeGreaterThan(0);
      } finally {
        await child.kill();
        swapper.dispose();
      }
      await outsideUntouched();
    }, 120_000);
  });

  describe('another program writing as a note is replaced', () => {
    it('an append that reaches the old file as the rename replaces it is returned whole', async () => {
      await h.put('n.md', 'base\n');
      await h.put('next.md', 'from the other device\n');
      const path = join(h.root, 'n.md');
      const folder = { self: h.root, child: (name: string) => join(h.root, name), sync: () => Promise.resolve(), close: () => Promise.resolve() };
      const place: Place = { folder, name: 'n.md', display: 'n.md' };
      const identity = identityOf(await lstat(path, { bigint: true }));
      // The other program opened the note just before the rename and writes just after the check: into the replaced inode.
      const raced = replaceNoting(place, identity, () => {
        const writer = openSync(path, 'a');
        renameSync(join(h.root, 'next.md'), path);
        writeSync(writer, 'typed meanwhile\n');
        closeSync(writer);
      });
      expect(raced.swapped).toBe(true);
      expect(raced.late()).toEqual(Buffer.from('base\ntyped meanwhile\n'));
      expect(await readFile(path, 'utf8')).toBe('from the other device\n');
      await h.put('n2.md', 'base\n');
      const quiet = replaceNoting({ ...place, name: 'n2.md' }, identityOf(await lstat(join(h.root, 'n2.md'), { bigint: true })), () => renameSync(path, join(h.root, 'n2.md')));
      expect(quiet.swapped).toBe(true);
      expect(quiet.late()).toBeNull();
    });

    it('a late write is merged into what the note holds now, three ways against the text it edited', async () => {
      await h.put('n.md', 'base\nours\nlater\n');
      const folder = { self: h.root, child: (name: string) => join(h.root, name), sync: () => Promise.resolve(), close: () => Promise.resolve() };
      await mergeLateWrite({ folder, name: 'n.md', display: 'n.md' }, 'base\n', Buffer.from('base\ntheirs\n'), { works: true });
      expect(await readFile(join(h.root, 'n.md'), 'utf8')).toBe('base\nours\nlater\ntheirs\n');
    });

    it('a process appending while its note is rewritten again and again loses no line (real process)', async () => {
      await h.put('n.md', '');
      const path = join(h.root, 'n.md');
      // Another process appends a numbered line every third of a millisecond while this one rewrites the note with what it read plus a line.
      const appender = new ChildScript(`
        import { appendFileSync } from 'node:fs';
        const [path] = process.argv.slice(2);
        const pause = new Int32Array(new SharedArrayBuffer(4));
        for (let i = 0; ; i += 1) {
          appendFileSync(path, 'w' + i + '\\n');
          if (i % 500 === 0) console.log('line ' + i);
          Atomics.wait(pause, 0, 0, 0.3);
        }
      `);
      const child = appender.start([path]);
      const ours: string[] = [];
      let changed = 0;
      try {
        await child.waitFor((lines) => lines.length > 0, 'the appender to start');
        for (let i = 0; i < 300; i += 1) {
          const seen = await readFile(path, 'utf8');
          const line = `ours ${i}\n`;
          if (await h.files.writeText('n.md', seen + line, { kind: 'text', text: seen })) ours.push(line);
          else changed += 1;
        }
      } finally {
        await child.kill();
        appender.dispose();
      }
      const text = await readFile(path, 'utf8');
      const numbers = text.split('\n').filter((l) => l.startsWith('w')).map((l) => Number(l.slice(1)));
      // Every appended line up to the last one is there, once, in order.
      expect(numbers).toEqual(numbers.map((_, i) => i));
      for (const line of ours) expect(text.split(line).length - 1).toBe(1);
      expect(changed).toBeGreaterThan(0);
    }, 120_000);

    it('a replace with nobody writing reports the write done', async () => {
      await h.put('n.md', 'base\n');
      expect(await h.files.writeText('n.md', 'next\n', { kind: 'text', text: 'base\n' })).toBe(true);
      expect(await readFile(join(h.root, 'n.md'), 'utf8')).toBe('next\n');
    });
  });

  describe('crash safety (real processes killed with SIGKILL)', () => {
    it('a large staged write killed midway resumes from stagedLength and commits whole', async () => {
      const total = 16 * 1024 * 1024;
      const key = 'c'.repeat(64);
      const writer = new ChildScript(`
        import { NodeVaultFiles } from './vault-folder';
        const pattern = ${pattern.toString()};
        const patternBytes = ${patternBytes.toString()};
        const [root, key, totalText] = process.argv.slice(2);
        const total = Number(totalText);
        void (async () => {
          const files = await NodeVaultFiles.open(root);
          const chunk = 256 * 1024;
          for (let offset = await files.stagedLength(key); offset < total; offset += chunk) {
            const length = Math.min(chunk, total - offset);
            await files.writeStaged(key, offset, patternBytes(offset, length));
            console.log('at ' + (offset + length));
          }
          console.log('done');
        })();
      `);
      try {
        const child = writer.start([h.root, key, String(total)]);
        await child.waitFor((lines) => lines.length >= 8, 'two megabytes staged');
        await child.kill();
        expect(child.lines).not.toContain('done');

        const files = await NodeVaultFiles.open(h.root);
        const staged = await files.stagedLength(key);
        expect(staged).toBeGreaterThanOrEqual(2 * 1024 * 1024);
        expect(staged).toBeLessThan(total);
        expect(await files.listStaged()).toEqual([key]);
        // What survived is exactly the start of the file (a killed write may end mid-chunk, never with wrong bytes).
        for (let offset = 0; offset < staged; offset += 1024 * 1024) {
          const length = Math.min(1024 * 1024, staged - offset);
          expect(Buffer.from(await files.readStaged(key, offset, length)).equals(Buffer.from(patternBytes(offset, length)))).toBe(true);
        }
        // Resume in another process from where it stopped.
        const resumed = writer.start([h.root, key, String(total)]);
        await resumed.waitFor((lines) => lines.includes('done'), 'the resumed transfer to finish');
        expect(Number(resumed.lines[0]!.slice(3))).toBeGreaterThan(staged);
        expect(await files.stagedLength(key)).toBe(total);
        expect(await files.list()).toEqual([]);
        expect(await files.commitStaged(key, 'Attachments/big.bin', { kind: 'absent' })).toBe(true);
        expect(await files.listStaged()).toEqual([]);
        const whole = await readFile(join(h.root, 'Attachments', 'big.bin'));
        expect(await contentHash(whole)).toBe(await contentHash(patternBytes(0, total)));
      } finally {
        writer.dispose();
      }
    }, 120_000);

    it('killed at any point of a write: the note is a whole version, no temporary file is listed, and the next start removes it', async () => {
      const writer = new ChildScript(`
        import { NodeVaultFiles } from './vault-folder';
        const version = (i: number) => ('version ' + i + '\\n').repeat(500 + (i % 7) * 300);
        const [root, startText] = process.argv.slice(2);
        void (async () => {
          const files = await NodeVaultFiles.open(root);
          let i = Number(startText);
          console.log('ready');
          for (;;) {
            const ok = await files.writeText('notes/note.md', version(i + 1), i === 0 ? { kind: 'absent' } : { kind: 'text', text: version(i) });
            if (!ok) { console.log('refused ' + i); process.exit(1); }
            i += 1;
            console.log('wrote ' + i);
          }
        })();
      `);
      const version = (i: number) => `version ${i}\n`.repeat(500 + (i % 7) * 300);
      try {
        let last = 0;
        for (const delay of [0, 1, 2, 3, 5, 10, 20, 40]) {
          const child = writer.start([h.root, String(last)]);
          await child.waitFor((lines) => lines.includes('ready'), 'the writer to start');
          // A different moment of a write each round (most land in the middle of one: a write is mostly fsync).
          await new Promise((resolve) => setTimeout(resolve, delay));
          await child.kill();
          const text = await readFile(join(h.root, 'notes', 'note.md'), 'utf8').catch(() => null);
          if (text !== null) {
            const i = Number(/^version (\d+)\n/.exec(text)?.[1]);
            expect(text).toBe(version(i));
            last = i;
          }
          // Not listed while it is there...
          const listed = await h.files.list();
          expect(listed.map((f) => f.path)).toEqual(text === null ? [] : ['notes/note.md']);
          // ...and gone once the folder is opened again.
          await NodeVaultFiles.open(h.root);
          expect((await namesUnder(h.root)).filter((name) => name.includes('.vault-peers-tmp-'))).toEqual([]);
        }
      } finally {
        writer.dispose();
      }
    }, 120_000);

    it('a commit killed between linking a staged file into place and unlinking it: writing that key again leaves the vault file alone', async () => {
      const key = 'd'.repeat(64);
      await h.files.writeStaged(key, 0, new Uint8Array([1, 2, 3, 4]));
      // What the kill leaves: the committed file and the staged name are one inode.
      await link(join(h.root, '.vault-peers', 'staging', key), join(h.root, 'img.bin'));
      await h.files.writeStaged(key, 2, new Uint8Array([9]));
      expect(await h.files.readStaged(key, 0, 10)).toEqual(new Uint8Array([1, 2, 9]));
      expect(await readFile(join(h.root, 'img.bin'))).toEqual(Buffer.from([1, 2, 3, 4]));
      expect(await namesUnder(join(h.root, '.vault-peers'))).toEqual(['staging', `staging/${key}`]);
    });

    it('start-up leaves the temporary files of a live process alone', async () => {
      await writeFile(join(h.root, `.vault-peers-tmp-${process.pid}-live`), 'mine');
      await writeFile(join(h.root, '.vault-peers-tmp-999999999-dead'), 'dead');
      await NodeVaultFiles.open(h.root);
      expect(await namesUnder(h.root)).toEqual([`.vault-peers-tmp-${process.pid}-live`]);
    });
  });

  describe('watch', () => {
    function inotifyWatches(): number {
      let count = 0;
      for (const fd of readdirSync('/proc/self/fd')) {
        try {
          if (!readlinkSyncSafe(`/proc/self/fd/${fd}`).includes('inotify')) continue;
          count += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').filter((line) => line.startsWith('inotify wd:')).length;
        } catch {
          // a descriptor closed while we looked
        }
      }
      return count;
    }

    it('starts with a rescan once live, and unsubscribing leaves no inotify watch behind', async () => {
      if (!LINUX) return;
      await h.put('a/b/c.md', 'x');
      const before = inotifyWatches();
      const changes: FileChange[] = [];
      const subscription = h.files.watch().subscribe((change) => changes.push(change));
      await until(() => changes.length > 0, 'the first change');
      expect(changes[0]).toEqual({ type: 'rescan' });
      // One watch per folder: the root, a, a/b (hidden folders are not watched).
      await h.put('.hidden/deep/x.md', 'x');
      expect(inotifyWatches()).toBeGreaterThanOrEqual(before + 3);
      subscription.unsubscribe();
      await until(() => inotifyWatches() === before, 'every inotify watch to be removed');
    });

    it('a folder that appears with files already inside reports each file', async () => {
      const { changes, subscription } = await liveWatch(h);
      try {
        // Built outside the vault, then moved in: the watcher sees one folder appear.
        const built = join(h.base, 'built');
        await mkdir(join(built, 'inner'), { recursive: true });
        await writeFile(join(built, 'one.md'), '1');
        await writeFile(join(built, 'inner', 'two.md'), '2');
        await symlink(h.outside, join(built, 'link'));
        execFileSync('mv', [built, join(h.root, 'moved')]);
        await until(() => ['moved/one.md', 'moved/inner/two.md'].every((p) => changes.some((c) => c.type === 'created' && c.path === p)), 'both files');
        expect(changes.some((c) => c.type !== 'rescan' && c.path.includes('link'))).toBe(false);
      } finally {
        subscription.unsubscribe();
      }
    });

    it('reports nothing under hidden folders, nor its own temporary and staged files', async () => {
      const { changes, subscription } = await liveWatch(h);
      try {
        const start = changes.length;
        await h.put('.obsidian/workspace.json', '{}');
        await h.put('.git/HEAD', 'ref');
        await h.files.writeStaged('k', 0, new Uint8Array([1]));
        await h.files.writeText('visible.md', 'v', { kind: 'absent' });
        await until(() => changes.some((c) => c.type !== 'rescan' && c.path === 'visible.md'), 'the visible file');
        const seen = changes.slice(start).filter((c) => c.type === 'rescan' || !c.path.startsWith('watch-probe-'));
        expect(seen.filter((c) => c.type === 'rescan' || c.path !== 'visible.md')).toEqual([]);
      } finally {
        subscription.unsubscribe();
      }
    });

    it('the synced folder replaced under the watcher: it watches the new one, after a rescan', async () => {
      const { changes, subscription } = await liveWatch(h);
      try {
        const rescans = changes.filter((c) => c.type === 'rescan').length;
        await rm(join(h.base, 'old'), { recursive: true, force: true });
        execFileSync('mv', [h.root, join(h.base, 'old')]);
        await mkdir(h.root);
        await until(() => changes.filter((c) => c.type === 'rescan').length > rescans, 'a rescan after the restart');
        await writeFile(join(h.root, 'in-new.md'), 'x');
        await until(() => changes.some((c) => c.type === 'created' && c.path === 'in-new.md'), 'an event from the new folder');
      } finally {
        subscription.unsubscribe();
      }
    });

    it('the synced folder removed: the stream ends with an error saying so', async () => {
      let failure: unknown = null;
      let live = false;
      const watching = h.files.watch().subscribe({ next: () => (live = true), error: (error: unknown) => (failure = error) });
      try {
        await until(() => live, 'the watcher to be live (its first rescan)');
        await rm(h.root, { recursive: true });
        await until(() => failure !== null, 'the error');
        expect(failure).toBeInstanceOf(FolderError);
        expect((failure as Error).message).toBe(`The synced folder ${h.root} is gone. Put it back, or point Vault Peers at the right folder.`);
      } finally {
        watching.unsubscribe();
        await mkdir(h.root, { recursive: true });
      }
    });

    it('a deleted folder is one event naming the folder (sanity: latency well under a second)', async () => {
      await h.put('gone/a.md', 'a');
      await h.put('gone/b.md', 'b');
      const { changes, subscription } = await liveWatch(h);
      try {
        const started = Date.now();
        await rm(join(h.root, 'gone'), { recursive: true });
        await until(() => changes.some((c) => c.type === 'deleted' && c.path === 'gone'), 'the folder deleted');
        // The event is about 50 ms late by design; the limit is generous for a loaded machine.
        expect(Date.now() - started).toBeLessThan(5_000);
      } finally {
        subscription.unsubscribe();
      }
    });
  });

  describe('errors a person can act on', () => {
    it('permission denied names the file and says what to do', async () => {
      if (!LINUX) return;
      await mkdir(join(h.root, 'locked'));
      await writeFile(join(h.root, 'locked', 'note.md'), 'old');
      chmodSync(join(h.root, 'locked'), 0o555);
      const probe = new ChildScript(`
        import { NodeVaultFiles } from './vault-folder';
        void (async () => {
          const files = await NodeVaultFiles.open(process.argv[2]!);
          try {
            await files.writeText('locked/note.md', 'new', { kind: 'text', text: 'old' });
            console.log(JSON.stringify({ ok: true }));
          } catch (error) {
            console.log(JSON.stringify({ name: (error as Error).constructor.name, code: (error as { code?: string }).code, message: (error as Error).message }));
          }
        })();
      `);
      try {
        // Root ignores permissions: then the probe runs as nobody.
        const asNobody = process.getuid?.() === 0;
        if (asNobody) {
          for (const dir of [h.base, h.root]) chownSync(dir, 65_534, 65_534);
          chmodSync(h.base, 0o755);
          chmodSync(dirname(probe.file), 0o755);
        }
        const child = probe.start([h.root], asNobody ? { uid: 65_534, gid: 65_534 } : {});
        await child.exited;
        const result = JSON.parse(child.lines[0] ?? '{}') as { name?: string; code?: string; message?: string };
        expect(result).toEqual({ name: 'FolderError', code: 'EACCES', message: expect.stringContaining('permission denied') });
        expect(result.message).toContain('"locked/note.md"');
        expect(result.message).toContain(h.root);
        expect(result.message).toContain('Give the user running Vault Peers read and write access');
        expect(await readFile(join(h.root, 'locked', 'note.md'), 'utf8')).toBe('old');
      } finally {
        probe.dispose();
        chmodSync(join(h.root, 'locked'), 0o755);
      }
    }, 60_000);

    it('a disk mounted inside the vault: commits and moves cross onto it, and a full disk says so (private mount namespace)', async () => {
      if (!LINUX || process.getuid?.() !== 0 || !commandExists('unshare')) return; // mounting needs root; the mount lives only in the child's namespace
      await mkdir(join(h.root, 'disk'));
      const probe = new ChildScript(`
        import { readdirSync } from 'node:fs';
        import { NodeVaultFiles } from './vault-folder';
        void (async () => {
          const root = process.argv[2]!;
          const files = await NodeVaultFiles.open(root);
          const out: Record<string, unknown> = {};
          await files.writeStaged('k', 0, new Uint8Array(100_000).fill(7));
          out.commit = await files.commitStaged('k', 'disk/img.bin', { kind: 'absent' });
          out.staged = await files.listStaged();
          out.committed = (await files.read('disk/img.bin'))?.length;
          await files.writeText('note.md', 'hello', { kind: 'absent' });
          out.rename = await files.rename('note.md', 'disk/sub/moved.md');
          out.renamed = [await files.read('note.md'), Buffer.from((await files.read('disk/sub/moved.md'))!).toString()];
          out.taken = await files.rename('disk/sub/moved.md', 'disk/img.bin');
          try {
            await files.writeText('disk/big.md', 'x'.repeat(2_000_000), { kind: 'absent' });
            out.full = 'written';
          } catch (error) {
            out.full = { code: (error as { code?: string }).code, message: (error as Error).message };
          }
          out.disk = readdirSync(root + '/disk').sort();
          console.log(JSON.stringify(out));
        })();
      `);
      try {
        const child = probe.start([h.root], { wrapper: ['unshare', '-m', 'sh', '-c', 'mount -t tmpfs -o size=1m tmpfs "$0/disk" && exec "$@"', h.root] });
        const { code } = await child.exited;
        expect({ code, stderr: child.stderr }).toEqual({ code: 0, stderr: '' });
        expect(JSON.parse(child.lines[0]!)).toEqual({
          commit: true,
          staged: [],
          committed: 100_000,
          rename: true,
          renamed: [null, 'hello'],
          taken: false,
          full: {
            code: 'ENOSPC',
            message: `Could not write "disk/big.md" in ${h.root}: the disk is full (or your quota is used up). Free some space; Vault Peers tries again and nothing was lost.`,
          },
          disk: ['img.bin', 'sub'],
        });
      } finally {
        probe.dispose();
      }
      // The mount was the child's alone.
      expect(await readdir(join(h.root, 'disk'))).toEqual([]);
    }, 60_000);

    it('a full disk, a read-only disk and a file in the way of a folder each say what to do', async () => {
      const errno = (code: string) => Object.assign(new Error(`${code}: failed, write '/proc/self/fd/9/x'`), { code });
      expect(hostError(errno('ENOSPC'), 'write', 'Daily/a.md', '/v').message).toBe(
        'Could not write "Daily/a.md" in /v: the disk is full (or your quota is used up). Free some space; Vault Peers tries again and nothing was lost.',
      );
      expect(hostError(errno('EROFS'), 'write', 'a.md', '/v').message).toContain('mounted read-only');
      expect(hostError(errno('EWHATEVER'), 'write', 'a.md', '/v').message).toBe('Could not write "a.md" in /v: EWHATEVER: failed');
      await h.put('file', 'x');
      const error = await h.files.writeText('file/below.md', 'x', { kind: 'absent' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FolderError);
      expect((error as Error).message).toContain('"file" is a file where a folder should be. Rename or move that file.');
    });
  });

  describe('large files', () => {
    it('readRange reads only the range (a 2 GiB sparse file)', async () => {
      const path = join(h.root, 'huge.bin');
      const handle = await open(path, 'w');
      await handle.truncate(2 * 1024 * 1024 * 1024);
      await handle.write(Buffer.from('tail'), 0, 4, 2 * 1024 * 1024 * 1024 - 4);
      await handle.close();
      const before = process.memoryUsage().arrayBuffers;
      expect(Buffer.from((await h.files.readRange('huge.bin', 2 * 1024 * 1024 * 1024 - 4, 1024 * 1024))!).toString()).toBe('tail');
      expect(await h.files.readRange('huge.bin', 1024, 3)).toEqual(new Uint8Array(3));
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
      expect(await h.files.stat('huge.bin')).toMatchObject({ size: 2 * 1024 * 1024 * 1024 });
    });

    it('a replaced file keeps its permissions', async () => {
      await writeFile(join(h.root, 'private.md'), 'a', { mode: 0o600 });
      chmodSync(join(h.root, 'private.md'), 0o600);
      expect(await h.files.writeText('private.md', 'b', { kind: 'text', text: 'a' })).toBe(true);
      expect((await lstat(join(h.root, 'private.md'))).mode & 0o777).toBe(0o600);
      expect(existsSync(join(h.root, 'private.md'))).toBe(true);
    });
  });
});

function commandExists(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function readlinkSyncSafe(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}
