import { Notice } from 'obsidian';
import type { Subscription } from 'rxjs';
import { shownName, shownReason } from '../app/display';
import type { PeerManager } from '../core/peer-manager';

export type Notify = (text: string, durationMs?: number) => void;

const notice: Notify = (text, durationMs) => void new Notice(text, durationMs);

/**
 * Notices for what a person should hear about even with no view open: a new
 * pairing, a request to pair, being removed, a refused invite. Never for
 * routine reconnects. Text from other devices is made safe first.
 */
export function showPeerNotices(manager: PeerManager, notify: Notify = notice): Subscription {
  return manager.events$.subscribe((event) => {
    switch (event.type) {
      case 'paired':
        notify(`Vault Peers: paired with ${shownName(event.name, event.nodeId)}.`);
        break;
      case 'pairing-requested':
        notify(`Vault Peers: ${shownName(event.name, event.nodeId)} asks to pair. Answer in the settings.`);
        break;
      case 'removed-by-peer':
        notify(`Vault Peers: ${shownName(manager.getPeer(event.nodeId)?.name, event.nodeId)} removed this device.`);
        break;
      case 'refused':
        if (event.reason.includes('invite')) notify(`Vault Peers: refused a device: ${shownReason(event.reason)}`);
        break;
      case 'problem':
        console.warn('Vault Peers:', event.message);
        break;
    }
  });
}

/** One notice for everything wrong with the stored peers, or none. */
export function showLoadProblems(problems: readonly string[], notify: Notify = notice): void {
  if (problems.length === 0) return;
  const more = problems.length > 2 ? ` (and ${problems.length - 2} more problems)` : '';
  notify(`Vault Peers: ${problems.slice(0, 2).map(shownReason).join(' ')}${more}`, 15_000);
}
