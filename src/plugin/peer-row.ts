import { shownName, shownReason } from '../app/display';
import type { PeerState } from '../core/model';
import { STATUS_LABEL, progressText, relativeTime, shortId } from './format';

/** What a person can do with a paired device, from the view or the settings tab. */
export interface PeerActions {
  connect(nodeId: string): void;
  disconnect(nodeId: string): void;
  rename(nodeId: string): void;
  setAutoConnect(nodeId: string, on: boolean): void;
  remove(nodeId: string): void;
  /** "Sync with this device": off keeps the device paired and connected, but no file goes either way. */
  setSync(nodeId: string, on: boolean): void;
  /** Whether this device syncs with `nodeId` now. */
  syncOn(nodeId: string): boolean;
}

/** Fills `row` with one peer: name, short id, status badge, sync progress or last sync, last error and actions. */
export function renderPeerRow(row: HTMLElement, state: PeerState, actions: PeerActions, now: number): void {
  const { peer, status, lastError, syncProgress } = state;
  const syncOn = actions.syncOn(peer.nodeId);
  row.empty();
  row.dataset.nodeId = peer.nodeId;
  row.dataset.status = status;

  const info = row.createDiv({ cls: 'vault-peers-row-info' });
  const title = info.createDiv({ cls: 'vault-peers-row-title' });
  title.createSpan({ cls: 'vault-peers-name', text: shownName(peer.name, peer.nodeId) });
  title.createSpan({ cls: 'vault-peers-id', text: shortId(peer.nodeId), attr: { title: peer.nodeId } });
  title.createSpan({ cls: `vault-peers-badge vault-peers-badge-${status}`, text: STATUS_LABEL[status] });
  if (!syncOn) title.createSpan({ cls: 'vault-peers-badge vault-peers-badge-off', text: 'Sync off' });

  const detail = info.createDiv({ cls: 'vault-peers-row-detail' });
  if (status === 'syncing' && syncProgress) detail.createSpan({ cls: 'vault-peers-progress', text: `Syncing ${progressText(syncProgress)}` });
  else if (status === 'syncing') detail.createSpan({ cls: 'vault-peers-progress', text: 'Syncing: comparing what each side has' });
  detail.createSpan({ cls: 'vault-peers-synced', text: `Last synced ${relativeTime(peer.lastSyncAt, now)}` });
  if (!peer.autoConnect) detail.createSpan({ cls: 'vault-peers-manual', text: ' · connects only when asked' });
  // While connected, a last error is a sync that failed on this connection; otherwise why it is not connected.
  if (lastError) info.createDiv({ cls: 'vault-peers-error', text: shownReason(lastError) });

  const buttons = row.createDiv({ cls: 'vault-peers-row-actions' });
  const button = (text: string, onClick: () => void, cls = ''): HTMLButtonElement => {
    const el = buttons.createEl('button', { text, cls });
    el.addEventListener('click', onClick);
    return el;
  };
  if (status === 'disconnected') button('Connect', () => actions.connect(peer.nodeId), 'mod-cta');
  else button('Disconnect', () => actions.disconnect(peer.nodeId));
  button('Rename', () => actions.rename(peer.nodeId));
  const toggle = buttons.createEl('label', { cls: 'vault-peers-auto' });
  const checkbox = toggle.createEl('input', { attr: { type: 'checkbox' } });
  checkbox.checked = peer.autoConnect;
  checkbox.addEventListener('change', () => actions.setAutoConnect(peer.nodeId, checkbox.checked));
  toggle.appendText(' Auto-connect');
  const sync = buttons.createEl('label', { cls: 'vault-peers-auto vault-peers-sync-toggle' });
  const syncBox = sync.createEl('input', { attr: { type: 'checkbox' } });
  syncBox.checked = syncOn;
  syncBox.addEventListener('change', () => actions.setSync(peer.nodeId, syncBox.checked));
  sync.appendText(' Sync');
  sync.setAttr('aria-label', 'Sync this vault with this device. Off: it stays paired, and no file goes either way.');
  button('Remove', () => actions.remove(peer.nodeId), 'mod-warning');
}

/** Keeps a list element in step with peer states, touching only rows whose state changed. */
export class PeerRows {
  private readonly rows = new Map<string, { el: HTMLElement; state: PeerState }>();
  /** How many rows were (re)drawn by the last update, for specs. */
  redrawn = 0;

  constructor(
    private readonly list: HTMLElement,
    private readonly actions: PeerActions,
    private readonly now: () => number,
  ) {}

  update(states: readonly PeerState[]): void {
    this.redrawn = 0;
    const seen = new Set<string>();
    let previous: HTMLElement | null = null;
    for (const state of states) {
      const nodeId = state.peer.nodeId;
      seen.add(nodeId);
      let entry = this.rows.get(nodeId);
      if (!entry) {
        entry = { el: createDiv({ cls: 'vault-peers-row' }), state };
        this.rows.set(nodeId, entry);
        renderPeerRow(entry.el, state, this.actions, this.now());
        this.redrawn += 1;
      } else if (entry.state !== state) {
        entry.state = state;
        renderPeerRow(entry.el, state, this.actions, this.now());
        this.redrawn += 1;
      }
      const expectedAfter: ChildNode | null = previous ? previous.nextSibling : this.list.firstChild;
      if (expectedAfter !== entry.el) this.list.insertBefore(entry.el, expectedAfter);
      previous = entry.el;
    }
    for (const [nodeId, entry] of this.rows) {
      if (!seen.has(nodeId)) {
        entry.el.remove();
        this.rows.delete(nodeId);
      }
    }
  }

  /** Redraws every row (a setting shown in them changed, such as "Sync"). */
  redrawAll(): void {
    for (const { el, state } of this.rows.values()) renderPeerRow(el, state, this.actions, this.now());
  }

  /** Re-renders the "last synced" times, which change with the clock alone. */
  refreshTimes(): void {
    for (const { el, state } of this.rows.values()) {
      const synced = el.querySelector('.vault-peers-synced');
      if (synced) synced.textContent = `Last synced ${relativeTime(state.peer.lastSyncAt, this.now())}`;
    }
  }

  get size(): number {
    return this.rows.size;
  }
}
