/**
 * @jest-environment jsdom
 */
import { EditorView } from '@codemirror/view';
import { Transaction } from '@codemirror/state';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VirtualTimeScheduler, asyncScheduler, type Observable } from 'rxjs';
import { contentHash } from '../../src/sync/hash';
import type { FileChange } from '../../src/sync/ports';
import type { OpenNotes } from '../../src/plugin/vault/open-notes';
import { watchVault } from '../../src/plugin/vault/vault-watch';
import { newTestScheduler } from '../support/marbles';
import { App, MarkdownView } from '../support/obsidian-mock';
import { until } from '../support/vault-files-contract';
import { obsidianHarness, type ObsidianHarness } from './vault-harness';

/** Every transaction a view dispatches, to see how a change was made. */
function transactionsOf(view: MarkdownView): Transaction[] {
  const seen: Transaction[] = [];
  const cm = view.editor.cm;
  const dispatch = cm.dispatch.bind(cm);
  // Spy on the view's own dispatch: CodeMirror routes every change of this view through it.
  (cm as { dispatch: EditorView['dispatch'] }).dispatch = ((...specs: Parameters<EditorView['dispatch']>) => {
    const tr = specs.length === 1 && specs[0] instanceof Transaction ? specs[0] : cm.state.update(...(specs as never[]));
    seen.push(tr);
    dispatch(tr);
  }) as EditorView['dispatch'];
  return seen;
}

const onDisk = (h: ObsidianHarness, path: string): string => readFileSync(join(h.root, path), 'utf8');

describe('a note open in an editor', () => {
  let h: ObsidianHarness;
  beforeEach(async () => {
    MarkdownView.saveDelayMs = 50;
    h = await obsidianHarness();
  });
  afterEach(async () => {
    MarkdownView.saveDelayMs = 2_000;
    await h.dispose();
  });

  it('is read from its editor, which runs ahead of the file until Obsidian saves', async () => {
    await h.put('Daily.md', 'morning\n');
    const view = await h.open('Daily.md');
    view.editor.setCursor({ line: 1, ch: 0 });
    view.editor.replaceSelection('typed just now\n');
    expect(onDisk(h, 'Daily.md')).toBe('morning\n');
    expect(new TextDecoder().decode((await h.files.read('Daily.md'))!)).toBe('morning\ntyped just now\n');
  });

  it("takes another device's change as the fewest editor changes: the cursor and selection stay with their text, undo skips it, the file is never rewritten under the editor", async () => {
    await h.put('Daily.md', 'alpha\nbeta\ngamma\n');
    const view = await h.open('Daily.md');
    // The person's cursor is in "gamma", and "beta" is selected in a second range... one selection: "bet".
    view.editor.setSelection({ line: 1, ch: 0 }, { line: 1, ch: 3 });
    const transactions = transactionsOf(view);
    const remote = 'NEW FIRST LINE\nalpha\nbeta\ngamma\nlast\n';
    expect(await h.files.writeText('Daily.md', remote, { kind: 'text', text: 'alpha\nbeta\ngamma\n' })).toBe(true);

    expect(view.editor.getValue()).toBe(remote);
    // "bet" is still what is selected, now one line further down.
    expect(view.editor.getSelection()).toBe('bet');
    expect(view.editor.getCursor('from')).toEqual({ line: 2, ch: 0 });
    // One transaction, two small changes (not a whole-text replacement), kept out of the undo history.
    expect(transactions).toHaveLength(1);
    const changed: [number, number, string][] = [];
    transactions[0]!.changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => changed.push([fromA, toA, inserted.toString()]));
    expect(changed).toEqual([
      [0, 0, 'NEW FIRST LINE\n'],
      [17, 17, 'last\n'],
    ]);
    expect(transactions[0]!.annotation(Transaction.addToHistory)).toBe(false);
    expect(view.reloads).toBe(0);
    // Obsidian saves the editor as after any change: the file follows.
    await until(() => onDisk(h, 'Daily.md') === remote, 'Obsidian to save the editor');
  });

  it('refuses a change whose expected text is not what the editor holds (the person typed since), and changes nothing', async () => {
    await h.put('Daily.md', 'one\n');
    const view = await h.open('Daily.md');
    view.editor.setCursor({ line: 1, ch: 0 });
    view.editor.replaceSelection('two\n');
    expect(await h.files.writeText('Daily.md', 'one\nfrom afar\n', { kind: 'text', text: 'one\n' })).toBe(false);
    expect(await h.files.writeText('Daily.md', 'x', { kind: 'absent' })).toBe(false);
    expect(await h.files.writeText('Daily.md', 'x', { kind: 'hash', hash: await contentHash(new TextEncoder().encode('one\n')) })).toBe(false);
    expect(view.editor.getValue()).toBe('one\ntwo\n');
    // By hash of what the editor holds, it goes in.
    expect(await h.files.writeText('Daily.md', 'one\ntwo\nthree\n', { kind: 'hash', hash: await contentHash(new TextEncoder().encode('one\ntwo\n')) })).toBe(true);
    expect(view.editor.getValue()).toBe('one\ntwo\nthree\n');
  });

  it('compares a rename or a delete with the editor too', async () => {
    await h.put('a.md', 'saved\n');
    const view = await h.open('a.md');
    view.editor.setCursor({ line: 1, ch: 0 });
    view.editor.replaceSelection('unsaved\n');
    expect(await h.files.rename('a.md', 'b.md', { kind: 'text', text: 'saved\n' })).toBe(false);
    expect(await h.files.remove('a.md', { kind: 'text', text: 'saved\n' })).toBe(false);
    expect(await h.files.rename('a.md', 'b.md', { kind: 'text', text: 'saved\nunsaved\n' })).toBe(true);
    // The editor follows the file to its new name, typing and all.
    expect(view.file?.path).toBe('b.md');
    expect(new TextDecoder().decode((await h.files.read('b.md'))!)).toBe('saved\nunsaved\n');
  });

  it('reports typing as a modification once it pauses, and never the changes that came from another device', async () => {
    await h.dispose();
    const scheduler = new VirtualTimeScheduler();
    h = await obsidianHarness({ editTiming: { quietMs: 300, maxMs: 1_000 }, scheduler });
    await h.put('n.md', 'text\n');
    const events: FileChange[] = [];
    const subscription = h.files.watch().subscribe((change) => events.push(change));
    const view = await h.open('n.md');
    await h.files.writeText('n.md', 'text\nfrom afar\n', { kind: 'text', text: 'text\n' });
    scheduler.flush();
    expect(events.filter((e) => e.type === 'modified')).toEqual([]);
    view.editor.setCursor({ line: 0, ch: 4 });
    view.editor.replaceSelection('!');
    scheduler.flush();
    subscription.unsubscribe();
    expect(events.filter((e) => e.type === 'modified')).toEqual([{ type: 'modified', path: 'n.md' }]);
  });
});

describe('vault events', () => {
  it('are registered once the layout is ready, so the files Obsidian loads at start are not taken for new ones; a rename is a rename', async () => {
    const h = await obsidianHarness();
    await h.put('old.md', 'x');
    await h.put('folder/inner.md', 'y');
    const app = new App(h.root, { layoutReady: false });
    const events: FileChange[] = [];
    const subscription = watchVault(app as never, h.notes).subscribe((change) => events.push(change));
    await app.startUp();
    expect(events).toEqual([]);
    await app.vault.rename(app.vault.getFileByPath('old.md')!, 'new.md');
    await app.vault.rename(app.vault.getFolderByPath('folder')!, 'moved');
    await app.fileManager.trashFile(app.vault.getFileByPath('new.md')!);
    expect(events).toEqual([
      { type: 'renamed', path: 'new.md', from: 'old.md' },
      { type: 'renamed', path: 'moved', from: 'folder' },
      { type: 'renamed', path: 'moved/inner.md', from: 'folder/inner.md' },
      { type: 'deleted', path: 'new.md' },
    ]);
    subscription.unsubscribe();
    expect(app.vault.handlerCount('create') + app.vault.handlerCount('modify') + app.vault.handlerCount('delete') + app.vault.handlerCount('rename')).toBe(0);
    await h.dispose();
  });

  it('go to the trash the person chose in Obsidian', async () => {
    const h = await obsidianHarness();
    await h.put('a.md', 'A');
    await h.put('b.md', 'B');
    expect(await h.files.remove('a.md', { kind: 'text', text: 'A' })).toBe(true);
    expect(readFileSync(join(h.app.vault.adapter.systemTrash, ...readdirSync(h.app.vault.adapter.systemTrash), 'a.md'), 'utf8')).toBe('A');
    h.app.fileManager.trashOption = 'local';
    expect(await h.files.remove('b.md', { kind: 'text', text: 'B' })).toBe(true);
    expect(readFileSync(join(h.root, '.trash', 'b.md'), 'utf8')).toBe('B');
    await h.dispose();
  });
});

describe('typing, in virtual time', () => {
  const edits = (source: Observable<string>): OpenNotes => ({ localEdits$: source }) as unknown as OpenNotes;

  it('goes out after a pause of 300 ms, or every second while it goes on, once per note', () => {
    newTestScheduler().run(({ hot, expectObservable }) => {
      const app = new App(undefined, { layoutReady: false });
      // Inside run(), the async scheduler runs in virtual time.
      const getScheduler = () => asyncScheduler;
      // a: steady typing in a.md every 100 ms for 1.5 s; b: one keystroke in b.md.
      const typing = hot('a 99ms a 99ms a 99ms a 99ms a 99ms a 99ms a 99ms a 99ms a 99ms a 99ms a 99ms a 99ms b', { a: 'a.md', b: 'b.md' });
      const out = watchVault(app as never, edits(typing), getScheduler(), { quietMs: 300, maxMs: 1_000 });
      // The first batch is cut at 1 s (a.md), the rest waits for the pause after b at 1.2 s.
      expectObservable(out, '^ 3s !').toBe('1000ms a 499ms (ab)', {
        a: { type: 'modified', path: 'a.md' },
        b: { type: 'modified', path: 'b.md' },
      });
    });
  });
});
