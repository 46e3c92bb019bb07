import { Notice, type App } from 'obsidian';
import { map } from 'rxjs';
import { shownName, shownReason } from '../app/display';
import { errorMessage } from '../core/errors';
import type { PeerManager } from '../core/peer-manager';
import { parseIrohTicket } from '../transport/iroh-transport';
import { ConfirmModal, InviteModal, JoinModal, RenameModal } from './modals';
import type { ConflictActions } from './conflicts-list';
import type { PeerActions } from './peer-row';
import type { PluginSettings } from './settings';
import { STATUS_VIEW_TYPE, type StatusViewServices } from './status-view';
import type { VaultSync } from './vault-sync';

/**
 * What a person can start from the view, the settings tab, the command
 * palette and obsidian:// links. Each reads the manager when it runs, so an
 * action left on screen after unloading does nothing.
 */
export class PluginActions {
  readonly peer: PeerActions;
  readonly conflicts: ConflictActions;

  constructor(
    private readonly app: App,
    private readonly manager: () => PeerManager | null,
    private readonly settings: PluginSettings,
    private readonly sync: VaultSync,
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
      syncOn: (nodeId) => !settings.current.syncOff.includes(nodeId),
      setSync: (nodeId, on) => {
        // Saved first, then the device reconnects, so the new connection starts under the new choice.
        report(
          settings.setSync(nodeId, on).then(() => {
            const manager = this.manager();
            return manager ? sync.resync(manager, nodeId) : undefined;
          }),
        );
      },
      remove: (nodeId) => {
        const peer = this.manager()?.getPeer(nodeId);
        if (!peer) return;
        const question = `Remove ${shownName(peer.name, nodeId)}? It is disconnected and told, and will not sync with this vault until you pair again.`;
        new ConfirmModal(app, 'Remove device', question, 'Remove', () => report(this.manager()?.removePeer(nodeId))).open();
      },
    };
    this.conflicts = {
      open: (path) => void app.workspace.openLinkText(path, '', 'tab'),
      resolve: (copy, choice) => sync.resolveConflict(copy, choice),
    };
  }

  /** What the status view shows and does, for the manager now running. */
  statusView(manager: PeerManager): StatusViewServices {
    const sync = this.sync;
    return {
      manager,
      actions: this.peer,
      sync: { conflicts$: sync.conflicts$, activityLog$: sync.activityLog$, problem$: sync.problem$, syncOff$: this.settings.current$.pipe(map((s) => s.syncOff)) },
      conflicts: this.conflicts,
      addDevice: () => this.addDevice(),
      joinDevice: () => this.joinDevice(),
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
