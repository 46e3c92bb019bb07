/**
 * The stand-in's editor: Obsidian's markdown editor is CodeMirror 6, and so
 * is this one (the real @codemirror/state and @codemirror/view that Obsidian
 * lends to plugins, running in jsdom). `Editor` is Obsidian's wrapper API
 * over the view; `editorInfoField` is the state field Obsidian puts in every
 * markdown editor to say which file it shows. Extensions a plugin registers
 * (`registerEditorExtension`) are in every editor, as in Obsidian.
 *
 * Not here: Obsidian's own keymaps, Live Preview, and the undo history
 * (@codemirror/commands is not installed), so specs check the history
 * annotation of a transaction rather than pressing undo.
 */
import { Compartment, EditorSelection, EditorState, StateField, Transaction, type Extension } from '@codemirror/state';
import { EditorView } from '@codemirror/view';

export interface EditorPosition {
  line: number;
  ch: number;
}

export interface EditorRange {
  from: EditorPosition;
  to: EditorPosition;
}

export interface EditorChange {
  from: EditorPosition;
  to?: EditorPosition;
  text: string;
}

export interface EditorTransaction {
  replaceSelection?: string;
  changes?: EditorChange[];
  selection?: { from: EditorPosition; to?: EditorPosition };
}

/** What `editorInfoField` holds: the view (a MarkdownView in Obsidian) with its file. */
export interface MarkdownFileInfo {
  readonly file: { readonly path: string } | null;
}

export const editorInfoField = StateField.define<MarkdownFileInfo>({
  create: () => ({ file: null }),
  update: (value) => value,
});

/** Obsidian's Editor over a CodeMirror view (Obsidian's runtime object also carries the view as `cm`). */
export class Editor {
  constructor(readonly cm: EditorView) {}

  getValue(): string {
    return this.cm.state.doc.toString();
  }
  setValue(content: string): void {
    this.cm.dispatch({ changes: { from: 0, to: this.cm.state.doc.length, insert: content } });
  }
  lineCount(): number {
    return this.cm.state.doc.lines;
  }
  getLine(line: number): string {
    return this.cm.state.doc.line(line + 1).text;
  }
  posToOffset(pos: EditorPosition): number {
    const line = this.cm.state.doc.line(Math.min(pos.line + 1, this.cm.state.doc.lines));
    return Math.min(line.from + pos.ch, line.to);
  }
  offsetToPos(offset: number): EditorPosition {
    const line = this.cm.state.doc.lineAt(offset);
    return { line: line.number - 1, ch: offset - line.from };
  }
  getCursor(which: 'from' | 'to' | 'head' | 'anchor' = 'head'): EditorPosition {
    const range = this.cm.state.selection.main;
    const offset = which === 'from' ? range.from : which === 'to' ? range.to : which === 'anchor' ? range.anchor : range.head;
    return this.offsetToPos(offset);
  }
  setCursor(pos: EditorPosition): void {
    this.cm.dispatch({ selection: EditorSelection.cursor(this.posToOffset(pos)) });
  }
  setSelection(anchor: EditorPosition, head: EditorPosition = anchor): void {
    this.cm.dispatch({ selection: EditorSelection.range(this.posToOffset(anchor), this.posToOffset(head)) });
  }
  getSelection(): string {
    const { from, to } = this.cm.state.selection.main;
    return this.cm.state.sliceDoc(from, to);
  }
  /** Typing as a person does: replaces the selection, the cursor after the text, recorded for undo. */
  replaceSelection(text: string): void {
    this.cm.dispatch(this.cm.state.replaceSelection(text), { userEvent: 'input.type' });
  }
  replaceRange(text: string, from: EditorPosition, to: EditorPosition = from): void {
    this.cm.dispatch({ changes: { from: this.posToOffset(from), to: this.posToOffset(to), insert: text }, userEvent: 'input' });
  }
  /** As Obsidian's: every change's positions are in the document as it was before the transaction. */
  transaction(tx: EditorTransaction): void {
    const changes = (tx.changes ?? []).map((c) => ({ from: this.posToOffset(c.from), to: this.posToOffset(c.to ?? c.from), insert: c.text }));
    const selection = tx.selection ? EditorSelection.range(this.posToOffset(tx.selection.from), this.posToOffset(tx.selection.to ?? tx.selection.from)) : undefined;
    this.cm.dispatch({ changes, ...(selection ? { selection } : {}) });
  }
  focus(): void {}
  hasFocus(): boolean {
    return false;
  }
}

/** Every markdown editor's share of plugins' extensions, reconfigured when one registers or unloads (as Obsidian does). */
export class EditorExtensions {
  private readonly registered: Extension[] = [];
  private readonly views = new Map<EditorView, Compartment>();

  /** For specs: how many extensions plugins have registered (unload must leave none of ours). */
  get count(): number {
    return this.registered.length;
  }

  add(extension: Extension): () => void {
    this.registered.push(extension);
    this.reconfigure();
    return () => {
      this.registered.splice(this.registered.indexOf(extension), 1);
      this.reconfigure();
    };
  }

  /** A markdown editor for `info`'s file holding `doc`, with every registered extension; `onChange` hears each transaction that changed the text. */
  create(parent: HTMLElement, doc: string, info: MarkdownFileInfo, onChange: (tr: readonly Transaction[]) => void): EditorView {
    const compartment = new Compartment();
    const view = new EditorView({
      state: EditorState.create({
        doc,
        extensions: [
          editorInfoField.init(() => info),
          compartment.of([...this.registered]),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) onChange(update.transactions);
          }),
        ],
      }),
      parent,
    });
    this.views.set(view, compartment);
    return view;
  }

  destroy(view: EditorView): void {
    this.views.delete(view);
    view.destroy();
  }

  private reconfigure(): void {
    for (const [view, compartment] of this.views) view.dispatch({ effects: compartment.reconfigure([...this.registered]) });
  }
}

export { Transaction };
