/**
 * A stand-in for the `obsidian` module (which is type definitions only), for
 * jsdom specs and the screenshots. It implements what Vault Peers uses, in
 * the shapes of obsidian.d.ts, with Obsidian's lifecycle: everything
 * registered on a Component is undone when it unloads. The vault is a real
 * folder (obsidian-vault.ts) and the editor real CodeMirror 6
 * (obsidian-editor.ts).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Extension, Transaction } from '@codemirror/state';
import { Editor, EditorExtensions } from './obsidian-editor';
import { Events, FileManager, FileSystemAdapter, TFile, Vault, type EventRef } from './obsidian-vault';

export { Editor, editorInfoField } from './obsidian-editor';
export { Events, FileManager, FileSystemAdapter, TAbstractFile, TFile, TFolder, Vault } from './obsidian-vault';

/** As Obsidian's: `/`-separated, no leading, trailing or doubled slashes, NFC. */
export function normalizePath(path: string): string {
  const cleaned = path.replace(/[\\/]+/g, '/').replace(/^\/|\/$/g, '');
  return (cleaned === '' ? '/' : cleaned).normalize('NFC');
}
export class Notice {
  static readonly shown: string[] = [];
  constructor(message: string, _timeout?: number) {
    Notice.shown.push(message);
  }
}

export class Component {
  private cleanups: (() => void)[] = [];
  /** For specs: what is still registered. */
  get registeredCount(): number {
    return this.cleanups.length;
  }
  register(cleanup: () => void): void {
    this.cleanups.push(cleanup);
  }
  registerInterval(id: number): number {
    this.register(() => window.clearInterval(id));
    return id;
  }
  registerDomEvent(el: EventTarget, type: string, callback: (event: Event) => void): void {
    el.addEventListener(type, callback);
    this.register(() => el.removeEventListener(type, callback));
  }
  registerEvent(ref: EventRef): void {
    this.register(() => ref.events.offref(ref));
  }
  /** Obsidian's Component.unload: onunload, then every registered cleanup. */
  unloadComponent(): void {
    (this as unknown as { onunload?: () => void }).onunload?.();
    for (const cleanup of this.cleanups.splice(0).reverse()) cleanup();
  }
}

export class WorkspaceLeaf {
  view: ItemView | null = null;
  constructor(readonly app: App) {}
  async setViewState(state: { type: string }): Promise<void> {
    const creator = this.app.views.get(state.type);
    if (!creator) throw new Error(`no view ${state.type}`);
    this.view = creator(this);
    this.app.workspace.leaves.push(this);
    await this.view.onOpen();
  }
  /** Opens a file: a markdown editor for a note, a plain file view for anything else. */
  async openFile(file: TFile): Promise<void> {
    await this.view?.onClose();
    this.view?.unloadComponent();
    const view = file.extension === 'md' ? new MarkdownView(this) : new FileView(this);
    this.view = view;
    if (!this.app.workspace.leaves.includes(this)) this.app.workspace.leaves.push(this);
    await view.load(file);
  }
  async detach(): Promise<void> {
    await this.view?.onClose();
    this.view?.unloadComponent();
    this.app.workspace.leaves = this.app.workspace.leaves.filter((l) => l !== this);
  }
}

export class Workspace extends Events {
  leaves: WorkspaceLeaf[] = [];
  /** False while Obsidian is starting (the vault's files still arriving as `create` events). */
  layoutReady: boolean;
  private readyCallbacks: (() => void)[] = [];
  constructor(
    private readonly app: App,
    layoutReady: boolean,
  ) {
    super();
    this.layoutReady = layoutReady;
  }
  onLayoutReady(callback: () => void): void {
    if (this.layoutReady) callback();
    else this.readyCallbacks.push(callback);
  }
  /** For specs: the layout is ready; callbacks queued by onLayoutReady run. */
  markLayoutReady(): void {
    this.layoutReady = true;
    for (const callback of this.readyCallbacks.splice(0)) callback();
  }
  getLeavesOfType(type: string): WorkspaceLeaf[] {
    return this.leaves.filter((l) => l.view?.getViewType() === type);
  }
  iterateAllLeaves(callback: (leaf: WorkspaceLeaf) => void): void {
    for (const leaf of [...this.leaves]) callback(leaf);
  }
  getActiveViewOfType<T>(type: abstract new (...args: never[]) => T): T | null {
    const view = this.leaves.at(-1)?.view;
    return view instanceof type ? view : null;
  }
  getRightLeaf(): WorkspaceLeaf {
    return new WorkspaceLeaf(this.app);
  }
  getLeaf(): WorkspaceLeaf {
    return new WorkspaceLeaf(this.app);
  }
  async revealLeaf(): Promise<void> {}
  /** Opens the file at `linktext` (a vault path here; Obsidian also resolves link names). */
  async openLinkText(linktext: string, _sourcePath: string, _newLeaf?: unknown): Promise<void> {
    const file = this.app.vault.getFileByPath(linktext) ?? this.app.vault.getFileByPath(`${linktext}.md`);
    if (file) await this.getLeaf().openFile(file);
  }
}

export interface AppOptions {
  /** False: the app is "starting" until the spec calls `startUp()` (default true: already running). */
  readonly layoutReady?: boolean;
  /** Obsidian's device-local storage for this vault, which outlives a restart of the app (default: a new one). */
  readonly localStorage?: Map<string, unknown>;
}

export class App {
  readonly views = new Map<string, (leaf: WorkspaceLeaf) => ItemView>();
  readonly editorExtensions = new EditorExtensions();
  private readonly local: Map<string, unknown>;
  readonly workspace: Workspace;
  readonly vault: Vault;
  readonly fileManager: FileManager;
  /** The vault folder on disk: `basePath`, or a new empty temporary folder. */
  constructor(basePath?: string, options: AppOptions = {}) {
    this.vault = new Vault(new FileSystemAdapter(basePath ?? mkdtempSync(join(tmpdir(), 'obsidian-vault-'))));
    this.fileManager = new FileManager(this.vault);
    this.workspace = new Workspace(this, options.layoutReady ?? true);
    this.local = options.localStorage ?? new Map();
  }
  /** What Obsidian does after loading plugins: reads the vault (a `create` per file), then the layout is ready. */
  async startUp(): Promise<void> {
    await this.vault.load();
    this.workspace.markLayoutReady();
  }
  loadLocalStorage(key: string): unknown {
    return this.local.get(key) ?? null;
  }
  saveLocalStorage(key: string, value: unknown): void {
    if (value === null || value === undefined) this.local.delete(key);
    else this.local.set(key, value);
  }
}

export class Plugin extends Component {
  readonly commands: { id: string; name: string; callback: () => void }[] = [];
  readonly settingTabs: PluginSettingTab[] = [];
  readonly statusBarItems: HTMLElement[] = [];
  data: unknown = null;
  constructor(
    readonly app: App,
    readonly manifest: { id: string; dir?: string; version: string },
  ) {
    super();
  }
  async loadData(): Promise<unknown> {
    return this.data === null ? null : JSON.parse(JSON.stringify(this.data));
  }
  async saveData(data: unknown): Promise<void> {
    this.data = JSON.parse(JSON.stringify(data));
  }
  registerView(type: string, creator: (leaf: WorkspaceLeaf) => ItemView): void {
    this.app.views.set(type, creator);
    this.register(() => this.app.views.delete(type));
  }
  addCommand(command: { id: string; name: string; callback: () => void }): void {
    this.commands.push(command);
  }
  addStatusBarItem(): HTMLElement {
    const el = document.body.createDiv({ cls: 'status-bar-item' });
    this.statusBarItems.push(el);
    this.register(() => el.remove());
    return el;
  }
  /** As Obsidian's: the extension joins every markdown editor, open ones included, until the plugin unloads. */
  registerEditorExtension(extension: Extension): void {
    this.register(this.app.editorExtensions.add(extension));
  }
  readonly protocolHandlers = new Map<string, (params: Record<string, string>) => void>();
  registerObsidianProtocolHandler(action: string, handler: (params: Record<string, string>) => void): void {
    this.protocolHandlers.set(action, handler);
  }
  addSettingTab(tab: PluginSettingTab): void {
    this.settingTabs.push(tab);
  }
}

export abstract class ItemView extends Component {
  readonly containerEl: HTMLElement;
  readonly contentEl: HTMLElement;
  constructor(readonly leaf: WorkspaceLeaf) {
    super();
    this.containerEl = createDiv({ cls: 'workspace-leaf-content' });
    this.containerEl.createDiv({ cls: 'view-header' });
    this.contentEl = this.containerEl.createDiv({ cls: 'view-content' });
    document.body.appendChild(this.containerEl);
  }
  abstract getViewType(): string;
  abstract getDisplayText(): string;
  get app(): App {
    return this.leaf.app;
  }
  getIcon(): string {
    return '';
  }
  async onOpen(): Promise<void> {}
  async onClose(): Promise<void> {}
}

/** A file that is not a note (an image, a PDF): shown, never edited. */
export class FileView extends ItemView {
  file: TFile | null = null;
  getViewType(): string {
    return 'file';
  }
  getDisplayText(): string {
    return this.file?.name ?? '';
  }
  async load(file: TFile): Promise<void> {
    this.file = file;
  }
}

/**
 * A note in an editor, as Obsidian's MarkdownView behaves: the editor holds
 * the text; each change triggers `editor-change` and a save after
 * `saveDelayMs` (Obsidian waits about 2 s); a change made to the file by
 * anything else (a `vault.modify`/`process`, another program) replaces the
 * editor's whole text with the file's, which is what a sync must never
 * cause while someone types.
 */
export class MarkdownView extends ItemView {
  static saveDelayMs = 2_000;
  file: TFile | null = null;
  editor!: Editor;
  /** For specs: how many times the editor's text was replaced from the file. */
  reloads = 0;
  private dirty = false;
  private saveTimer: number | null = null;
  private lastSaved: string | null = null;
  private reloading = false;
  private readonly refs: EventRef[] = [];

  getViewType(): string {
    return 'markdown';
  }
  getDisplayText(): string {
    return this.file?.basename ?? '';
  }
  getViewData(): string {
    return this.editor.getValue();
  }

  async load(file: TFile): Promise<void> {
    this.file = file;
    const text = await this.app.vault.read(file);
    this.lastSaved = text;
    const cm = this.app.editorExtensions.create(this.contentEl, text, this, (trs) => this.changed(trs));
    this.editor = new Editor(cm);
    this.refs.push(this.app.vault.on('modify', (changed: TFile) => void this.fileModified(changed)));
    this.refs.push(this.app.vault.on('delete', (gone: TFile) => gone === this.file && void this.leaf.detach()));
    this.register(() => {
      for (const ref of this.refs) this.app.vault.offref(ref);
      if (this.saveTimer !== null) window.clearTimeout(this.saveTimer);
      this.app.editorExtensions.destroy(cm);
    });
  }

  /** Obsidian's requestSave: one save once the typing pauses. */
  requestSave(): void {
    if (this.saveTimer !== null) window.clearTimeout(this.saveTimer);
    this.saveTimer = window.setTimeout(() => void this.save(), MarkdownView.saveDelayMs);
  }

  async save(): Promise<void> {
    if (this.saveTimer !== null) window.clearTimeout(this.saveTimer);
    this.saveTimer = null;
    if (!this.dirty || !this.file) return;
    this.dirty = false;
    const text = this.editor.getValue();
    this.lastSaved = text;
    await this.app.vault.modify(this.file, text);
  }

  override async onClose(): Promise<void> {
    await this.save();
  }

  private changed(transactions: readonly Transaction[]): void {
    if (this.reloading) return;
    void transactions;
    this.dirty = true;
    this.app.workspace.trigger('editor-change', this.editor, this);
    this.requestSave();
  }

  private async fileModified(file: TFile): Promise<void> {
    if (file !== this.file) return;
    // Renamed or deleted since the event (a busy machine): the view follows the rename or closes on the delete.
    const text = await this.app.vault.read(file).catch(() => null);
    if (text === null) return;
    if (text === this.lastSaved || text === this.editor.getValue()) return;
    this.lastSaved = text;
    this.reloads += 1;
    this.reloading = true;
    try {
      this.editor.setValue(text);
    } finally {
      this.reloading = false;
    }
  }
}

export class Modal {
  static readonly open: Modal[] = [];
  readonly modalEl: HTMLElement;
  readonly titleEl: HTMLElement;
  readonly contentEl: HTMLElement;
  constructor(readonly app: App) {
    this.modalEl = createDiv({ cls: 'modal' });
    this.titleEl = this.modalEl.createDiv({ cls: 'modal-title' });
    this.contentEl = this.modalEl.createDiv({ cls: 'modal-content' });
  }
  setTitle(title: string): this {
    this.titleEl.setText(title);
    return this;
  }
  open(): void {
    document.body.appendChild(this.modalEl);
    Modal.open.push(this);
    this.onOpen();
  }
  close(): void {
    this.onClose();
    this.modalEl.remove();
    Modal.open.splice(Modal.open.indexOf(this), 1);
  }
  onOpen(): void {}
  onClose(): void {}
}

class TextComponent {
  readonly inputEl = createEl('input') as HTMLInputElement;
  setPlaceholder(text: string): this {
    this.inputEl.placeholder = text;
    return this;
  }
  setValue(value: string): this {
    this.inputEl.value = value;
    return this;
  }
  onChange(callback: (value: string) => void): this {
    this.inputEl.addEventListener('input', () => callback(this.inputEl.value));
    return this;
  }
}

class TextAreaComponent {
  readonly inputEl = createEl('textarea') as HTMLTextAreaElement;
  setPlaceholder(text: string): this {
    this.inputEl.placeholder = text;
    return this;
  }
  setValue(value: string): this {
    this.inputEl.value = value;
    return this;
  }
  getValue(): string {
    return this.inputEl.value;
  }
  onChange(callback: (value: string) => void): this {
    this.inputEl.addEventListener('input', () => callback(this.inputEl.value));
    return this;
  }
}

/** Obsidian's toggle: a `.checkbox-container` that flips on click and carries `is-enabled` when on. */
class ToggleComponent {
  readonly toggleEl = createDiv({ cls: 'checkbox-container' });
  private value = false;
  private listeners: ((value: boolean) => void)[] = [];
  constructor() {
    this.toggleEl.addEventListener('click', () => {
      if (this.toggleEl.hasClass('is-disabled')) return;
      this.setValue(!this.value);
      for (const listener of this.listeners) listener(this.value);
    });
  }
  getValue(): boolean {
    return this.value;
  }
  setValue(on: boolean): this {
    this.value = on;
    this.toggleEl.toggleClass('is-enabled', on);
    return this;
  }
  setDisabled(disabled: boolean): this {
    this.toggleEl.toggleClass('is-disabled', disabled);
    return this;
  }
  setTooltip(tooltip: string): this {
    this.toggleEl.setAttr('aria-label', tooltip);
    return this;
  }
  onChange(callback: (value: boolean) => void): this {
    this.listeners.push(callback);
    return this;
  }
}

class DropdownComponent {
  readonly selectEl = createEl('select') as HTMLSelectElement;
  addOptions(options: Record<string, string>): this {
    for (const [value, text] of Object.entries(options)) this.selectEl.createEl('option', { text, attr: { value } });
    return this;
  }
  setValue(value: string): this {
    this.selectEl.value = value;
    return this;
  }
  onChange(callback: (value: string) => void): this {
    this.selectEl.addEventListener('change', () => callback(this.selectEl.value));
    return this;
  }
}

class ButtonComponent {
  readonly buttonEl = createEl('button') as HTMLButtonElement;
  setButtonText(text: string): this {
    this.buttonEl.setText(text);
    return this;
  }
  setCta(): this {
    this.buttonEl.addClass('mod-cta');
    return this;
  }
  setWarning(): this {
    this.buttonEl.addClass('mod-warning');
    return this;
  }
  setDisabled(disabled: boolean): this {
    this.buttonEl.disabled = disabled;
    return this;
  }
  setTooltip(tooltip: string): this {
    this.buttonEl.setAttr('aria-label', tooltip);
    return this;
  }
  onClick(callback: () => void): this {
    this.buttonEl.addEventListener('click', callback);
    return this;
  }
}

export class Setting {
  readonly settingEl: HTMLElement;
  readonly nameEl: HTMLElement;
  readonly descEl: HTMLElement;
  readonly controlEl: HTMLElement;
  constructor(containerEl: HTMLElement) {
    this.settingEl = containerEl.createDiv({ cls: 'setting-item' });
    const info = this.settingEl.createDiv({ cls: 'setting-item-info' });
    this.nameEl = info.createDiv({ cls: 'setting-item-name' });
    this.descEl = info.createDiv({ cls: 'setting-item-description' });
    this.controlEl = this.settingEl.createDiv({ cls: 'setting-item-control' });
  }
  setName(name: string): this {
    this.nameEl.setText(name);
    return this;
  }
  setDesc(desc: string | DocumentFragment): this {
    this.descEl.empty();
    if (typeof desc === 'string') this.descEl.setText(desc);
    else this.descEl.appendChild(desc);
    return this;
  }
  setClass(cls: string): this {
    this.settingEl.addClass(cls);
    return this;
  }
  setHeading(): this {
    this.settingEl.addClass('setting-item-heading');
    return this;
  }
  addText(build: (c: TextComponent) => unknown): this {
    const c = new TextComponent();
    this.controlEl.appendChild(c.inputEl);
    build(c);
    return this;
  }
  addTextArea(build: (c: TextAreaComponent) => unknown): this {
    const c = new TextAreaComponent();
    this.controlEl.appendChild(c.inputEl);
    build(c);
    return this;
  }
  addToggle(build: (c: ToggleComponent) => unknown): this {
    const c = new ToggleComponent();
    this.controlEl.appendChild(c.toggleEl);
    build(c);
    return this;
  }
  addDropdown(build: (c: DropdownComponent) => unknown): this {
    const c = new DropdownComponent();
    this.controlEl.appendChild(c.selectEl);
    build(c);
    return this;
  }
  addButton(build: (c: ButtonComponent) => unknown): this {
    const c = new ButtonComponent();
    this.controlEl.appendChild(c.buttonEl);
    build(c);
    return this;
  }
}

export abstract class PluginSettingTab {
  readonly containerEl: HTMLElement = createDiv({ cls: 'vertical-tab-content' });
  constructor(
    readonly app: App,
    readonly plugin: Plugin,
  ) {}
  abstract display(): void;
  hide(): void {}
}
