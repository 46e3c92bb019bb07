import { Notice, type App } from 'obsidian';
import { shownName, shownReason } from '../app/display';
import { errorMessage } from '../core/errors';
import type { PeerManager } from '../core/peer-manager';
import { parseIrohTicket } from '../transport/iroh-transport';
import { ConfirmModal, InviteModal, JoinModal, RenameModal } from './modals';
import type { PeerActions } from './peer-row';
import { STATUS_VIEW_TYPE } from './status-view';

/**
 * What a person can start from the view, the settings tab, the command
 * palette and obsidian:// links. Each reads the manager when it runs, so an
 * action left on screen after unloading does nothing.
 */
export class PluginActions {
  readonly peer: PeerActions;

  constructor(
    private readonly app: App,
    private readonly manager: () => PeerManager | null,
  ) {
    const report = (promise: Promise<unknown> | undefined): void => {
      promise?.catch((error: unknown) => new Notice(`Vault Peers: ${shownReason(errorMessage(error))}`));
    };
    this.peer = {
      connect: (nodeId) => report(this.manager()?.connectToPeer(nodeId)),
      disconnect: (nodeId) => report(this.manager()?.disconnectPeer(nodeId)),
      setAutoConnect: (nodeId, on) => report(this.manager()?.updatePeer(nodeId, { autoConnect: on })),
      rename: (nodeId) => {
        const peer = this.manager()?.getPeer(nodeId);
        if (peer) new RenameModal(app, shownName(peer.name, nodeId), (name) => this.manager()?.updatePeer(nodeId, { name }) ?? Promise.resolve()).open();
      },
      remove: (nodeId) => {
        const peer = this.manager()?.getPeer(nodeId);
        if (!peer) return;
        const question = `Remove ${shownName(peer.name, nodeId)}? It is disconnected and told, and will not sync with this vault until you pair again.`;
        new ConfirmModal(app, 'Remove device', question, 'Remove', () => report(this.manager()?.removePeer(nodeId))).open();
      },
    };
  }

  addDevice(): void {
    const manager = this.manager();
    if (manager) new InviteModal(this.app, manager).open();
  }

  joinDevice(invite = ''): void {
    const manager = this.manager();
    if (manager) new JoinModal(this.app, manager, parseIrohTicket, invite).open();
  }

  async openStatusView(): Promise<void> {
    const existing = this.app.workspace.getLeavesOfType(STATUS_VIEW_TYPE)[0];
    const leaf = existing ?? this.app.workspace.getRightLeaf(false);
    if (!leaf) return;
    if (!existing) await leaf.setViewState({ type: STATUS_VIEW_TYPE, active: true });
    await this.app.workspace.revealLeaf(leaf);
  }
}
