/**
 * The Obsidian vault adapter over the stand-in app, as the VaultFiles
 * contract and the adapter specs use it: a vault folder on disk with the
 * plugin's folder in its config folder, the app over it, the open-notes
 * extension registered, and helpers that act "as another program" (they
 * change the disk, then let the stand-in's vault notice, as Obsidian's file
 * watcher would).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { VirtualTimeScheduler, type SchedulerLike } from 'rxjs';
import { nodeByteRanges } from '../../src/plugin/vault/byte-ranges';
import { OpenNotes } from '../../src/plugin/vault/open-notes';
import { ObsidianVaultFiles } from '../../src/plugin/vault/vault-files';
import type { EditTiming } from '../../src/plugin/vault/vault-watch';
import { App, MarkdownView, WorkspaceLeaf, type TFile } from '../support/obsidian-mock';
import type { VaultFilesHarness } from '../support/vault-files-contract';

export const STAGING = '.obsidian/plugins/vault-peers/staging';

export interface ObsidianHarness extends VaultFilesHarness {
  readonly files: ObsidianVaultFiles;
  readonly app: App;
  readonly notes: OpenNotes;
  readonly root: string;
  /** Opens `path` in a new pane, as clicking it in the file explorer does. */
  open(path: string): Promise<MarkdownView>;
}

async function namesUnder(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    // The config folder is Obsidian's, in every vault; the adapter never lists or writes it (it stages in it).
    if (path === '.obsidian') continue;
    out.push(path);
    if (entry.isDirectory()) out.push(...(await namesUnder(join(dir, entry.name), path)));
  }
  return out.sort();
}

export async function obsidianHarness(options: { scheduler?: SchedulerLike; editTiming?: EditTiming } = {}): Promise<ObsidianHarness> {
  const root = await mkdtemp(join(tmpdir(), 'vp-obsidian-'));
  await mkdir(join(root, '.obsidian', 'plugins', 'vault-peers'), { recursive: true });
  const app = new App(root);
  const notes = new OpenNotes();
  const unregister = app.editorExtensions.add(notes.extension);
  const files = new ObsidianVaultFiles({
    app: app as never,
    notes,
    ranges: nodeByteRanges,
    fullPath: (path) => app.vault.adapter.getFullPath(path),
    stagingFolder: STAGING,
    scheduler: options.scheduler ?? new VirtualTimeScheduler(),
    ...(options.editTiming ? { editTiming: options.editTiming } : {}),
  });
  const at = (path: string): string => join(root, ...path.split('/'));
  const leaves: WorkspaceLeaf[] = [];
  return {
    files,
    app,
    notes,
    root,
    async put(path, content) {
      await mkdir(dirname(at(path)), { recursive: true });
      await writeFile(at(path), content);
      await app.vault.noticeDiskChange(path);
    },
    async del(path) {
      await rm(at(path));
      await app.vault.noticeDiskChange(path);
    },
    async get(path) {
      try {
        return new Uint8Array(await readFile(at(path)));
      } catch {
        return null;
      }
    },
    async folders() {
      const names = await namesUnder(root);
      const folders: string[] = [];
      for (const name of names) if ((await app.vault.adapter.stat(name))?.type === 'folder') folders.push(name);
      return folders;
    },
    names: () => namesUnder(root),
    async mkdir(path) {
      await mkdir(at(path), { recursive: true });
      await app.vault.noticeDiskChange(path);
    },
    async open(path) {
      const leaf = app.workspace.getLeaf();
      leaves.push(leaf);
      await leaf.openFile(app.vault.getFileByPath(path) as TFile);
      return leaf.view as MarkdownView;
    },
    async dispose() {
      for (const leaf of leaves) await leaf.detach();
      unregister();
      notes.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
