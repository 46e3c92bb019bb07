import { decodeNote } from './disk';
import type { Folder } from './folder';
import { ingestChanges } from './local';
import { conflictOriginal, extensionOf, lastName, parentOf } from './paths';
import type { Expected, FileRecord } from './ports';

/**
 * A person's answer to a conflict copy, done as ordinary file changes
 * through the port (so they sync like any other change): keep this (the
 * copy's content replaces the file), keep that (the copy goes), keep both
 * (the copy gets an ordinary name).
 */
export type ConflictChoice = 'keep-this' | 'keep-that' | 'keep-both';

export async function resolveConflict(folder: Folder, copyPath: string, choice: ConflictChoice): Promise<void> {
  const original = conflictOriginal(copyPath);
  const copy = folder.index.liveAt(copyPath)[0];
  if (original === null || !copy?.disk) throw new Error(`${copyPath} is not a conflict copy on this device.`);
  const target = folder.index.liveAt(original)[0];
  if (choice === 'keep-both') {
    const free = freeName(folder, original);
    if (!(await folder.files.rename(copy.disk.path, free, await expectedOf(folder, copy)))) throw new Error(`Could not rename ${copyPath}: it changed or ${free} is taken.`);
    await ingestChanges(folder, [{ type: 'renamed', path: free, from: copy.disk.path }]);
    return;
  }
  if (choice === 'keep-this') {
    const bytes = await folder.files.read(copy.disk.path);
    if (!bytes) throw new Error(`${copyPath} is gone.`);
    const expected: Expected = target?.disk ? await expectedOf(folder, target) : { kind: 'absent' };
    const text = decodeNote(bytes);
    const path = target?.disk?.path ?? original;
    const written =
      text !== null && (target?.kind ?? 'text') === 'text' && folder.filter.isNoteName(original)
        ? await folder.files.writeText(path, text, expected)
        : (await folder.files.writeStaged(copy.hash, 0, bytes), await folder.files.commitStaged(copy.hash, path, expected));
    if (!written) throw new Error(`${original} changed meanwhile; look at it again before choosing.`);
    await ingestChanges(folder, [{ type: 'modified', path }]);
  }
  if (await folder.files.remove(copy.disk.path, await expectedOf(folder, copy))) {
    await ingestChanges(folder, [{ type: 'deleted', path: copy.disk.path }]);
  }
}

async function expectedOf(folder: Folder, record: FileRecord): Promise<Expected> {
  if (record.kind === 'text') return { kind: 'text', text: (await folder.notes.open(record.id)).base };
  return { kind: 'hash', hash: record.disk!.hash };
}

/** `name 2.ext`, `name 3.ext`... the first name nothing claims. */
function freeName(folder: Folder, path: string): string {
  const folderPath = parentOf(path);
  const name = lastName(path);
  const dot = extensionOf(path) ? name.lastIndexOf('.') : name.length;
  const [stem, ext] = [name.slice(0, dot), name.slice(dot)];
  for (let n = 2; ; n += 1) {
    const candidate = `${folderPath ? `${folderPath}/` : ''}${stem} ${n}${ext}`;
    if (folder.index.liveAt(candidate).length === 0) return candidate;
  }
}
