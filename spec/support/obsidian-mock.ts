/**
 * A small stand-in for the `obsidian` module (which is type definitions only),
 * for jsdom specs and the screenshot page. It implements what Vault Peers uses,
 * with Obsidian's lifecycle: everything registered on a Component is undone
 * when it unloads.
 */
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
  registerEvent(): void {}
  /** Obsidian's Component.unload: onunload, then every registered cleanup. */
  unloadComponent(): void {
    (this as unknown as { onunload?: () => void }).onunload?.();
    for (const cleanup of this.cleanups.splice(0).reverse()) cleanup();
  }
}

export class FileSystemAdapter {
  /** Files written through the adapter, by vault-relative path. */
  readonly files = new Map<string, string>();
  constructor(private readonly base: string) {}
  getBasePath(): string {
    return this.base;
  }
  async exists(path: string): Promise<boolean> {
    return this.files.has(path);
  }
  async read(path: string): Promise<string> {
    const text = this.files.get(path);
    if (text === undefined) throw new Error(`ENOENT ${path}`);
    return text;
  }
  async write(path: string, data: string): Promise<void> {
    this.files.set(path, data);
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
  async detach(): Promise<void> {
    await this.view?.onClose();
    this.view?.unloadComponent();
    this.app.workspace.leaves = this.app.workspace.leaves.filter((l) => l !== this);
  }
}

export class App {
  readonly views = new Map<string, (leaf: WorkspaceLeaf) => ItemView>();
  private readonly local = new Map<string, unknown>();
  readonly workspace = {
    leaves: [] as WorkspaceLeaf[],
    onLayoutReady: (callback: () => void) => callback(),
    getLeavesOfType: (type: string) => this.workspace.leaves.filter((l) => l.view?.getViewType() === type),
    getRightLeaf: () => new WorkspaceLeaf(this),
    revealLeaf: async () => undefined,
  };
  readonly vault: { adapter: unknown; getName: () => string };
  constructor(basePath = '/vault') {
    this.vault = { adapter: new FileSystemAdapter(basePath), getName: () => 'My vault' };
  }
  loadLocalStorage(key: string): unknown {
    return this.local.get(key) ?? null;
  }
  saveLocalStorage(key: string, value: unknown): void {
    this.local.set(key, value);
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
  getIcon(): string {
    return '';
  }
  async onOpen(): Promise<void> {}
  async onClose(): Promise<void> {}
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
  setValue(value: string): this {
    this.inputEl.value = value;
    return this;
  }
  onChange(callback: (value: string) => void): this {
    this.inputEl.addEventListener('input', () => callback(this.inputEl.value));
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
  setDesc(desc: string): this {
    this.descEl.setText(desc);
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
