import type { Subscription } from 'rxjs';
import { contentHash } from '../../src/sync/hash';
import type { Expected, FileChange, VaultFiles } from '../../src/sync/ports';

/**
 * The `VaultFiles` contract (src/sync/ports.ts), for any adapter: the Node
 * folder (spec/cli/vault-folder.spec.ts), the in-memory one of the engine's
 * specs, the Obsidian one. Each adapter gives a factory for a fresh, empty
 * folder and a way to act on it "behind the adapter's back", as another
 * program (an editor, `git pull`) would.
 */
export interface VaultFilesHarness {
  readonly files: VaultFiles;
  /** Writes a file as another program would (creating folders), so the adapter only learns of it by watching. */
  put(path: string, content: string | Uint8Array): Promise<void>;
  /** Deletes a file as another program would. */
  del(path: string): Promise<void>;
  /** What another program sees at `path`: the bytes, or null when there is no file. */
  get(path: string): Promise<Uint8Array | null>;
  /** Every folder under the root (not the root), `/`-separated: to check that emptied folders go. */
  folders(): Promise<string[]>;
  /** Every name under the root, files and folders, hidden ones included: to check nothing else appeared. */
  names(): Promise<string[]>;
  /** Makes `path` a symbolic link to `target` (an absolute path outside the root). Absent where the host has no links. */
  symlink?(path: string, target: string): Promise<void>;
  /** Creates a folder as another program would. */
  mkdir(path: string): Promise<void>;
  dispose(): Promise<void>;
}

const encoder = new TextEncoder();
const bytesOf = (text: string): Uint8Array => encoder.encode(text);
const textOf = (bytes: Uint8Array | null): string | null => (bytes === null ? null : new TextDecoder().decode(bytes));
const absent: Expected = { kind: 'absent' };
const text = (value: string): Expected => ({ kind: 'text', text: value });
const hash = async (value: string | Uint8Array): Promise<Expected> => ({
  kind: 'hash',
  hash: await contentHash(typeof value === 'string' ? bytesOf(value) : value),
});

/** Waits for a condition with a generous limit (never a fixed sleep). */
export async function until(condition: () => boolean | Promise<boolean>, what: string, limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Subscribes to `watch()` and waits until it demonstrably reports (a probe file written until it is seen). */
export async function liveWatch(harness: VaultFilesHarness): Promise<{ changes: FileChange[]; subscription: Subscription }> {
  const changes: FileChange[] = [];
  let failure: unknown = null;
  const subscription = harness.files.watch().subscribe({ next: (change) => changes.push(change), error: (error: unknown) => (failure = error) });
  let probe = 0;
  await until(async () => {
    if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
    if (changes.some((change) => change.type !== 'rescan' && change.path.startsWith('watch-probe-'))) return true;
    probe += 1;
    await harness.put(`watch-probe-${probe}.md`, 'probe');
    await new Promise((resolve) => setTimeout(resolve, 50));
    return false;
  }, 'the watcher to report a probe file');
  for (let i = 1; i <= probe; i += 1) await harness.del(`watch-probe-${i}.md`);
  return { changes, subscription };
}

function paths(changes: readonly FileChange[], type: FileChange['type']): string[] {
  return changes.flatMap((change) => (change.type === type && change.type !== 'rescan' ? [change.path] : []));
}

export function vaultFilesContract(name: string, create: () => Promise<VaultFilesHarness>): void {
  describe(`VaultFiles contract: ${name}`, () => {
    let h: VaultFilesHarness;
    let files: VaultFiles;

    beforeEach(async () => {
      h = await create();
      files = h.files;
    });
    afterEach(async () => {
      await h.dispose();
    });

    describe('writeText', () => {
      it('creates a file expected absent, with its folders, and refuses when anything is there', async () => {
        expect(await files.writeText('A/B/note.md', 'first', absent)).toBe(true);
        expect(textOf(await h.get('A/B/note.md'))).toBe('first');
        expect(await files.writeText('A/B/note.md', 'second', absent)).toBe(false);
        expect(textOf(await h.get('A/B/note.md'))).toBe('first');
        // A folder of that name also counts as "not absent".
        expect(await files.writeText('A/B', 'x', absent)).toBe(false);
        expect(await h.folders()).toEqual(expect.arrayContaining(['A', 'A/B']));
      });

      it('replaces a file only while it still holds the expected text', async () => {
        await h.put('note.md', 'line one\n');
        expect(await files.writeText('note.md', 'line two\n', text('line one'))).toBe(false);
        expect(await files.writeText('note.md', 'line two\n', text('line one\n'))).toBe(true);
        expect(textOf(await h.get('note.md'))).toBe('line two\n');
        // Changed behind our back: the old belief no longer holds.
        await h.put('note.md', 'edited elsewhere\n');
        expect(await files.writeText('note.md', 'line three\n', text('line two\n'))).toBe(false);
        expect(textOf(await h.get('note.md'))).toBe('edited elsewhere\n');
      });

      it('compares the whole text exactly: a BOM is part of it, and a file that is not UTF-8 matches no text', async () => {
        await h.put('bom.md', new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69])); // a BOM, then "hi"
        expect(await files.writeText('bom.md', 'x', text('hi'))).toBe(false);
        expect(await files.writeText('bom.md', 'x', text('\ufeffhi'))).toBe(true);
        // Decoded leniently these bytes read "h\ufffd"; the engine decodes strictly (such a file is no note), and so does the check.
        await h.put('bad.md', new Uint8Array([0x68, 0xff]));
        expect(await files.writeText('bad.md', 'x', text('h\ufffd'))).toBe(false);
        expect(await h.get('bad.md')).toEqual(new Uint8Array([0x68, 0xff]));
      });

      it('replaces a file only while it still has the expected hash', async () => {
        await h.put('data.md', 'v1');
        expect(await files.writeText('data.md', 'v2', await hash('v0'))).toBe(false);
        expect(await files.writeText('data.md', 'v2', await hash('v1'))).toBe(true);
        expect(textOf(await h.get('data.md'))).toBe('v2');
      });

      it('a text or hash belief about a missing file fails and creates no folder', async () => {
        expect(await files.writeText('gone/note.md', 'x', text(''))).toBe(false);
        expect(await files.writeText('gone/note.md', 'x', await hash(''))).toBe(false);
        expect(await files.writeText('note.md', 'x', text(''))).toBe(false);
        expect(await h.names()).toEqual([]);
      });

      it('writes to different paths at once (as the engine writes a group of notes): each is its own compare-and-swap', async () => {
        // Some files exist and were changed by another program since the engine saw them; the folders are new to most.
        for (let i = 0; i < 24; i += 4) await h.put(`Old/n${i}.md`, i % 8 === 0 ? `changed ${i}` : `seen ${i}`);
        const writes = Array.from({ length: 24 }, (_, i) => {
          if (i % 4 === 0) return files.writeText(`Old/n${i}.md`, `new ${i}`, text(`seen ${i}`));
          return files.writeText(`New/${i % 3}/n${i}.md`, `new ${i}`, absent);
        });
        const written = await Promise.all(writes);
        for (let i = 0; i < 24; i += 1) {
          const refused = i % 8 === 0;
          expect([i, written[i]]).toEqual([i, !refused]);
          const at = i % 4 === 0 ? `Old/n${i}.md` : `New/${i % 3}/n${i}.md`;
          expect([at, textOf(await h.get(at))]).toEqual([at, refused ? `changed ${i}` : `new ${i}`]);
        }
        // Nothing but the files themselves: no temporary file left, each new folder made once.
        const names = (await h.names()).filter((n) => !n.startsWith('.'));
        expect(names.filter((n) => !/^(Old|New)(\/\d)?(\/n\d+\.md)?$/u.test(n))).toEqual([]);
        expect(names.filter((n) => n.endsWith('.md'))).toHaveLength(24);
      });

      it('writes UTF-8 and an empty text', async () => {
        expect(await files.writeText('ünï/ç☃.md', 'héllo ☃ 𝄞', absent)).toBe(true);
        expect(await h.get('ünï/ç☃.md')).toEqual(bytesOf('héllo ☃ 𝄞'));
        expect(await files.writeText('empty.md', '', absent)).toBe(true);
        expect(await files.stat('empty.md')).toMatchObject({ size: 0 });
        expect(await files.writeText('empty.md', 'now', text(''))).toBe(true);
      });

      it('replaces atomically: a reader sees a whole old or new version, and nothing else appears', async () => {
        const versions = Array.from({ length: 20 }, (_, i) => `version ${i} `.repeat(2000 + i * 50));
        await h.put('big.md', versions[0]!);
        let stop = false;
        const seen = new Set<string>();
        const reader = (async () => {
          while (!stop) {
            const got = textOf(await h.get('big.md'));
            if (got !== null) seen.add(got);
            await new Promise((resolve) => setImmediate(resolve));
          }
        })();
        for (let i = 1; i < versions.length; i += 1) expect(await files.writeText('big.md', versions[i]!, text(versions[i - 1]!))).toBe(true);
        stop = true;
        await reader;
        for (const got of seen) expect(versions).toContain(got);
        expect(await h.names()).toEqual(['big.md']);
      });
    });

    describe('reading', () => {
      it('stat, read and readRange a file; null for a missing file or a folder', async () => {
        await h.put('folder/file.bin', new Uint8Array([1, 2, 3, 4, 5]));
        expect(await files.stat('folder/file.bin')).toEqual({ path: 'folder/file.bin', size: 5, mtime: expect.any(Number) });
        expect(await files.read('folder/file.bin')).toEqual(new Uint8Array([1, 2, 3, 4, 5]));
        expect(await files.readRange('folder/file.bin', 1, 3)).toEqual(new Uint8Array([2, 3, 4]));
        expect(await files.readRange('folder/file.bin', 3, 100)).toEqual(new Uint8Array([4, 5]));
        expect(await files.readRange('folder/file.bin', 5, 10)).toEqual(new Uint8Array([]));
        expect(await files.readRange('folder/file.bin', 50, 10)).toEqual(new Uint8Array([]));
        for (const path of ['missing.md', 'folder', 'folder/missing', 'nofolder/x', 'folder/file.bin/below']) {
          expect(await files.stat(path)).toBeNull();
          expect(await files.read(path)).toBeNull();
          expect(await files.readRange(path, 0, 1)).toBeNull();
        }
      });

      it('stat changes when the file does (mtime and size), and equals what list says', async () => {
        await h.put('a.md', 'one');
        const before = await files.stat('a.md');
        expect((await files.list()).find((f) => f.path === 'a.md')).toEqual(before);
        await new Promise((resolve) => setTimeout(resolve, 20));
        await h.put('a.md', 'three');
        const after = await files.stat('a.md');
        expect(after?.size).toBe(5);
        expect(after?.mtime).not.toBe(before?.mtime);
      });

      it('lists every file recursively with its size, skipping folders the engine skips', async () => {
        await h.put('a.md', 'a');
        await h.put('x/b.md', 'bb');
        await h.put('x/y/c.png', 'ccc');
        await h.put('skip/d.md', 'dddd');
        await h.mkdir('empty');
        const listed = await files.list({ skipFolder: (path) => path === 'skip' });
        expect(listed.map((f) => [f.path, f.size]).sort()).toEqual([
          ['a.md', 1],
          ['x/b.md', 2],
          ['x/y/c.png', 3],
        ]);
        expect((await files.list()).map((f) => f.path).sort()).toEqual(['a.md', 'skip/d.md', 'x/b.md', 'x/y/c.png']);
      });
    });

    describe('rename', () => {
      it('moves a file, making folders and removing the ones it empties (never the root)', async () => {
        await h.put('old/deep/note.md', 'content');
        expect(await files.rename('old/deep/note.md', 'new/place/note.md')).toBe(true);
        expect(await h.get('old/deep/note.md')).toBeNull();
        expect(textOf(await h.get('new/place/note.md'))).toBe('content');
        expect(await h.folders()).toEqual(['new', 'new/place']);
        expect(await files.rename('new/place/note.md', 'top.md')).toBe(true);
        expect(await h.names()).toEqual(['top.md']);
      });

      it('never overwrites: a taken target leaves both files as they were', async () => {
        await h.put('a.md', 'A');
        await h.put('b.md', 'B');
        expect(await files.rename('a.md', 'b.md')).toBe(false);
        expect(await files.rename('a.md', 'b.md', text('A'))).toBe(false);
        expect(textOf(await h.get('a.md'))).toBe('A');
        expect(textOf(await h.get('b.md'))).toBe('B');
        // A folder (here one with a file in it, which every host can express) is not a free name either.
        await h.put('folder/inside.md', 'i');
        expect(await files.rename('a.md', 'folder')).toBe(false);
        expect(await files.rename('a.md', 'a.md')).toBe(false);
        expect(textOf(await h.get('a.md'))).toBe('A');
        expect(await h.names()).toEqual(['a.md', 'b.md', 'folder', 'folder/inside.md']);
      });

      it('moves only while the source matches the expectation, and a missing source fails', async () => {
        await h.put('a.md', 'A');
        expect(await files.rename('a.md', 'x/b.md', text('not A'))).toBe(false);
        expect(await files.rename('a.md', 'x/b.md', await hash('not A'))).toBe(false);
        expect(await files.rename('a.md', 'x/b.md', absent)).toBe(false);
        expect(await h.names()).toEqual(['a.md']);
        expect(await files.rename('a.md', 'x/b.md', await hash('A'))).toBe(true);
        expect(await files.rename('a.md', 'c.md')).toBe(false);
        expect(await files.rename('nothing/here.md', 'c.md')).toBe(false);
        expect(await h.names()).toEqual(['x', 'x/b.md']);
      });
    });

    describe('remove', () => {
      it('deletes while the file matches, removing emptied folders', async () => {
        await h.put('keep/other.md', 'o');
        await h.put('keep/sub/note.md', 'n');
        expect(await files.remove('keep/sub/note.md', text('wrong'))).toBe(false);
        expect(await files.remove('keep/sub/note.md', absent)).toBe(false);
        expect(textOf(await h.get('keep/sub/note.md'))).toBe('n');
        expect(await files.remove('keep/sub/note.md', text('n'))).toBe(true);
        expect(await h.names()).toEqual(['keep', 'keep/other.md']);
        expect(await files.remove('keep/other.md', await hash('o'))).toBe(true);
        expect(await h.names()).toEqual([]);
      });

      it('a missing file expected absent is a success; expected present it is a failure', async () => {
        expect(await files.remove('missing.md', absent)).toBe(true);
        expect(await files.remove('no/folder/missing.md', absent)).toBe(true);
        expect(await files.remove('missing.md', text(''))).toBe(false);
        await h.put('folder/inside.md', 'i');
        expect(await files.remove('folder', absent)).toBe(false);
        expect(await files.remove('folder', text(''))).toBe(false);
        expect(await h.names()).toEqual(['folder', 'folder/inside.md']);
      });
    });

    describe('staging', () => {
      const key = 'a'.repeat(64);
      const chunk = (n: number, size = 1000): Uint8Array => Uint8Array.from({ length: size }, (_, i) => (n * 7 + i) % 251);

      it('appends chunks, reports the length to resume from, and reads them back', async () => {
        expect(await files.stagedLength(key)).toBe(0);
        expect(await files.listStaged()).toEqual([]);
        expect(await files.readStaged(key, 0, 10)).toEqual(new Uint8Array([]));
        await files.writeStaged(key, 0, chunk(0));
        await files.writeStaged(key, 1000, chunk(1));
        expect(await files.stagedLength(key)).toBe(2000);
        expect(await files.readStaged(key, 990, 20)).toEqual(Uint8Array.from([...chunk(0).subarray(990), ...chunk(1).subarray(0, 10)]));
        expect(await files.readStaged(key, 1990, 50)).toEqual(chunk(1).subarray(990));
        expect(await files.listStaged()).toEqual([key]);
        // Nothing staged shows in the vault.
        expect(await files.list()).toEqual([]);
      });

      it('writing at an earlier offset drops everything after it first', async () => {
        await files.writeStaged(key, 0, chunk(0));
        await files.writeStaged(key, 1000, chunk(1));
        await files.writeStaged(key, 500, chunk(2, 100));
        expect(await files.stagedLength(key)).toBe(600);
        expect(await files.readStaged(key, 500, 200)).toEqual(chunk(2, 100));
        await files.writeStaged(key, 0, new Uint8Array(0));
        expect(await files.stagedLength(key)).toBe(0);
      });

      it('commits into place (making folders) when the target matches, and the staged file is gone', async () => {
        await files.writeStaged(key, 0, chunk(0));
        expect(await files.commitStaged(key, 'Attachments/img.png', absent)).toBe(true);
        expect(await h.get('Attachments/img.png')).toEqual(chunk(0));
        expect(await files.listStaged()).toEqual([]);
        expect(await files.stagedLength(key)).toBe(0);
        const other = 'b'.repeat(64);
        await files.writeStaged(other, 0, chunk(1));
        expect(await files.commitStaged(other, 'Attachments/img.png', await hash(chunk(0)))).toBe(true);
        expect(await h.get('Attachments/img.png')).toEqual(chunk(1));
      });

      it('a commit whose target no longer matches changes nothing and keeps the staged file', async () => {
        await h.put('img.png', 'edited here');
        await files.writeStaged(key, 0, chunk(0));
        expect(await files.commitStaged(key, 'img.png', absent)).toBe(false);
        expect(await files.commitStaged(key, 'img.png', await hash('what it was'))).toBe(false);
        expect(await files.commitStaged(key, 'new/img.png', text('x'))).toBe(false);
        expect(textOf(await h.get('img.png'))).toBe('edited here');
        expect(await files.stagedLength(key)).toBe(1000);
        expect(await files.list()).toEqual([expect.objectContaining({ path: 'img.png' })]);
        expect(await h.folders()).not.toContain('new');
      });

      it('refuses to commit what was never staged, and to write past the end of what is', async () => {
        await expect(files.commitStaged(key, 'x.bin', absent)).rejects.toThrow();
        await files.writeStaged(key, 0, chunk(0, 10));
        await expect(files.writeStaged(key, 11, chunk(1, 10))).rejects.toThrow(RangeError);
        expect(await files.stagedLength(key)).toBe(10);
        expect(await h.names()).toEqual([]);
      });

      it('discards (a missing one too) and lists every staged key', async () => {
        await files.writeStaged('k1', 0, chunk(0, 10));
        await files.writeStaged('k2', 0, chunk(1, 10));
        expect((await files.listStaged()).sort()).toEqual(['k1', 'k2']);
        await files.discardStaged('k1');
        await files.discardStaged('k1');
        await files.discardStaged('never');
        expect(await files.listStaged()).toEqual(['k2']);
      });
    });

    describe('paths', () => {
      it.each(['../x.md', '/etc/passwd', 'a/../../x.md', 'a\0b.md', '', 'a//b.md', './a.md'])('refuses %j for every call, touching nothing', async (path) => {
        await h.put('a/b.md', 'b');
        await expect(files.stat(path)).rejects.toThrow();
        await expect(files.read(path)).rejects.toThrow();
        await expect(files.writeText(path, 'x', absent)).rejects.toThrow();
        await expect(files.remove(path, absent)).rejects.toThrow();
        await expect(files.rename('a/b.md', path)).rejects.toThrow();
        expect(await h.names()).toEqual(['a', 'a/b.md']);
      });
    });

    describe('symbolic links', () => {
      it('list neither follows nor lists them', async () => {
        if (!h.symlink) return;
        await h.put('real/a.md', 'a');
        await h.symlink('linked-folder', '/');
        await h.symlink('real/linked-file.md', '/etc/hostname');
        expect((await files.list()).map((f) => f.path)).toEqual(['real/a.md']);
      });
    });

    describe('watch', () => {
      it('reports files created, modified and deleted by another program', async () => {
        const { changes, subscription } = await liveWatch(h);
        try {
          await h.put('w/new.md', 'one');
          await until(() => paths(changes, 'created').includes('w/new.md') || paths(changes, 'modified').includes('w/new.md'), 'a created event');
          const before = changes.length;
          await h.put('w/new.md', 'two');
          await until(() => changes.slice(before).some((c) => c.type !== 'rescan' && c.path === 'w/new.md'), 'a modified event');
          await h.del('w/new.md');
          await until(() => paths(changes, 'deleted').includes('w/new.md') || paths(changes, 'deleted').includes('w'), 'a deleted event');
        } finally {
          subscription.unsubscribe();
        }
      });

      it('stops reporting once unsubscribed', async () => {
        const first = await liveWatch(h);
        first.subscription.unsubscribe();
        const count = first.changes.length;
        await h.put('after.md', 'x');
        // A second watcher that has seen a file written after after.md: the first one had every chance to report it.
        const second = await liveWatch(h);
        second.subscription.unsubscribe();
        expect(first.changes.length).toBe(count);
      });
    });
  });
}
