import type { PeerState } from '../core/model';

/** "Peers: 2/3", plus "syncing" (with the files done, when known) while any peer syncs. */
export function renderStatusBar(el: HTMLElement, states: readonly PeerState[]): void {
  const connected = states.filter((s) => s.status === 'connected' || s.status === 'syncing').length;
  const syncing = states.filter((s) => s.status === 'syncing');
  el.empty();
  el.addClass('vault-peers-status-bar');
  el.toggleClass('is-syncing', syncing.length > 0);
  el.createSpan({ text: states.length === 0 ? 'Peers: none' : `Peers: ${connected}/${states.length}` });
  if (syncing.length > 0) {
    const files = syncing.reduce((sum, s) => ({ done: sum.done + (s.syncProgress?.files.done ?? 0), total: sum.total + (s.syncProgress?.files.total ?? 0) }), { done: 0, total: 0 });
    el.createSpan({ cls: 'vault-peers-syncing', text: files.total > 0 ? ` syncing ${files.done}/${files.total}` : ' syncing' });
  }
  const what = syncing.length > 0 ? ` Syncing with ${syncing.length}.` : '';
  el.setAttr('aria-label', states.length === 0 ? 'No paired devices. Click to add one.' : `${connected} of ${states.length} devices connected.${what} Click for details.`);
}
