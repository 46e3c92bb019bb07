// eslint-disable-next-line import/no-extraneous-dependencies -- Obsidian lends plugins its own CodeMirror (a peer dependency of `obsidian`); bundling another copy would break editors
import { Annotation, Transaction, type Extension } from '@codemirror/state';
// eslint-disable-next-line import/no-extraneous-dependencies -- as above
import { ViewPlugin, type EditorView, type ViewUpdate } from '@codemirror/view';
import { editorInfoField } from 'obsidian';
import { Subject, type Observable } from 'rxjs';
import { textHunks } from '../../sync/text-diff';

/** Marks the editor transactions that carry another device's change, so they are not taken for typing. */
const fromSync = Annotation.define<boolean>();

export type EditorApply = 'applied' | 'refused' | 'not-open';

/**
 * The notes open in an editor, found through an editor extension (a
 * CodeMirror view plugin that Obsidian puts in every markdown editor, so
 * the set stays right as panes open and close; `editorInfoField` says
 * which file each shows). While a note is open its editor holds the truth
 * (the file on disk lags by Obsidian's save delay), so the sync reads the
 * editor's text and applies another device's change to the editor, never
 * to the file under it.
 */
export class OpenNotes {
  private readonly views = new Set<EditorView>();
  private readonly edits = new Subject<string>();
  /** The path of a note each time a person (or another plugin) changes it in an editor; never for our own changes. */
  readonly localEdits$: Observable<string> = this.edits.asObservable();
  /** Register with `plugin.registerEditorExtension`. */
  readonly extension: Extension;

  constructor() {
    const views = this.views;
    const noteEdited = (update: ViewUpdate): void => this.noteEdited(update);
    this.extension = ViewPlugin.define((view) => {
      views.add(view);
      return {
        update: noteEdited,
        destroy: () => views.delete(view),
      };
    });
  }

  /** The text of `path` in its editor, or null when it is not open. */
  textOf(path: string): string | null {
    return this.viewOf(path)?.state.doc.toString() ?? null;
  }

  /**
   * Turns the editor of `path` from its current text into `text` with the
   * fewest changes, if `accepts` says yes to the current text (checked in
   * the same tick as the change, so no keystroke slips in between). The
   * changes are one transaction kept out of the undo history: undo takes
   * back what this person typed, not what arrived from another device.
   * Cursors and selections move with the text around them.
   */
  apply(path: string, text: string, accepts: (current: string) => boolean): EditorApply {
    const view = this.viewOf(path);
    if (!view) return 'not-open';
    const current = view.state.doc.toString();
    if (!accepts(current)) return 'refused';
    const hunks = textHunks(current, text);
    if (hunks.length === 0) return 'applied';
    view.dispatch({
      changes: hunks.map((hunk) => ({ from: hunk.start, to: hunk.end, insert: hunk.insert })),
      annotations: [fromSync.of(true), Transaction.addToHistory.of(false), Transaction.remote.of(true)],
    });
    return 'applied';
  }

  /** Stops reporting edits (the views themselves go when Obsidian removes the extension). */
  close(): void {
    this.edits.complete();
  }

  private viewOf(path: string): EditorView | undefined {
    // Two panes of one note show one text (Obsidian keeps them in step): either one will do.
    for (const view of this.views) if (pathOf(view) === path) return view;
    return undefined;
  }

  private noteEdited(update: ViewUpdate): void {
    if (!update.docChanged || update.transactions.every((tr) => !tr.docChanged || tr.annotation(fromSync) === true)) return;
    const path = pathOf(update.view);
    if (path !== null) this.edits.next(path);
  }
}

function pathOf(view: EditorView): string | null {
  return view.state.field(editorInfoField, false)?.file?.path ?? null;
}
