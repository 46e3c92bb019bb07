import type { PeerState } from '../core/model';

/** "2/3 connected", plus a syncing mark while any peer syncs. */
export function renderStatusBar(el: HTMLElement, states: readonly PeerState[]): void {
  const connected = states.filter((s) => s.status === 'connected' || s.status === 'syncing').length;
  const syncing = states.some((s) => s.status === 'syncing');
  el.empty();
  el.addClass('vault-peers-status-bar');
  el.toggleClass('is-syncing', syncing);
  el.createSpan({ text: states.length === 0 ? 'Peers: none' : `Peers: ${connected}/${states.length}` });
  if (syncing) el.createSpan({ cls: 'vault-peers-syncing', text: ' syncing' });
  el.setAttr('aria-label', states.length === 0 ? 'No paired devices. Click to add one.' : `${connected} of ${states.length} devices connected. Click for details.`);
}
