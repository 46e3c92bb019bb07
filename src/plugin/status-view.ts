import { ItemView, type WorkspaceLeaf } from 'obsidian';
import type { Subscription } from 'rxjs';
import type { PeerManager } from '../core/peer-manager';
import { PeerRows, type PeerActions } from './peer-row';

export const STATUS_VIEW_TYPE = 'vault-peers-status';

export interface StatusViewServices {
  readonly manager: PeerManager;
  readonly actions: PeerActions;
  addDevice(): void;
  joinDevice(): void;
}

/** Every paired device with its live status; updates only the rows whose peer changed. */
export class PeerStatusView extends ItemView {
  private subscription: Subscription | null = null;
  private rows: PeerRows | null = null;

  constructor(
    leaf: WorkspaceLeaf,
    private readonly services: StatusViewServices,
  ) {
    super(leaf);
  }

  getViewType(): string {
    return STATUS_VIEW_TYPE;
  }

  getDisplayText(): string {
    return 'Vault Peers';
  }

  override getIcon(): string {
    return 'radio-tower';
  }

  override async onOpen(): Promise<void> {
    const root = this.contentEl;
    root.empty();
    root.addClass('vault-peers-view');
    const header = root.createDiv({ cls: 'vault-peers-header' });
    header.createEl('h4', { text: 'Paired devices' });
    const buttons = header.createDiv({ cls: 'vault-peers-header-actions' });
    buttons.createEl('button', { text: 'Add a device', cls: 'mod-cta' }).addEventListener('click', () => this.services.addDevice());
    buttons.createEl('button', { text: 'Join a device' }).addEventListener('click', () => this.services.joinDevice());

    const empty = root.createDiv({ cls: 'vault-peers-empty' });
    empty.createEl('p', { text: 'No devices are paired with this vault yet.' });
    empty.createEl('p', {
      text: 'On this device choose "Add a device" to show an invite; on the other device choose "Join a device" and scan or paste it.',
    });
    const list = root.createDiv({ cls: 'vault-peers-list' });
    const rows = new PeerRows(list, this.services.actions, () => Date.now());
    this.rows = rows;
    this.subscription = this.services.manager.peerStates$.subscribe((states) => {
      rows.update(states);
      empty.toggleClass('vault-peers-hidden', states.length > 0);
    });
    this.registerInterval(window.setInterval(() => rows.refreshTimes(), 60_000));
  }

  override async onClose(): Promise<void> {
    this.subscription?.unsubscribe();
    this.subscription = null;
    this.rows = null;
  }

  /** For specs: the rows redrawn by the last change. */
  get lastRedrawCount(): number {
    return this.rows?.redrawn ?? 0;
  }
}
