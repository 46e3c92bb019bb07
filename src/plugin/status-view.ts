import { ItemView, Notice, type WorkspaceLeaf } from 'obsidian';
import { combineLatest, distinctUntilChanged, map, type Observable, type Subscription } from 'rxjs';
import { shownReason } from '../app/display';
import { errorMessage } from '../core/errors';
import type { PeerManager } from '../core/peer-manager';
import type { ActivityEntry, ConflictCopy } from '../sync';
import { renderActivity } from './activity-log';
import { renderConflicts, type ConflictActions } from './conflicts-list';
import { PeerRows, type PeerActions } from './peer-row';

export const STATUS_VIEW_TYPE = 'vault-peers-status';

/** What the view shows of the vault's sync (the engine's streams; empty until it runs). */
export interface SyncViewSource {
  readonly conflicts$: Observable<readonly ConflictCopy[]>;
  readonly activityLog$: Observable<readonly ActivityEntry[]>;
  /** Why sync is not running, if it could not start. */
  readonly problem$: Observable<string | null>;
  /** Changes when a choice shown in the rows changes ("Sync" per device). */
  readonly syncOff$: Observable<readonly string[]>;
}

export interface StatusViewServices {
  readonly manager: PeerManager;
  readonly actions: PeerActions;
  readonly sync: SyncViewSource;
  readonly conflicts: ConflictActions;
  addDevice(): void;
  joinDevice(): void;
}

/**
 * Every paired device with its live status and sync progress, then the
 * conflict copies waiting for an answer and the recent sync activity. Only
 * what changed is redrawn; everything comes from streams (engine and
 * manager -> view), nothing flows back but a person's clicks.
 */
export class PeerStatusView extends ItemView {
  private subscriptions: Subscription[] = [];
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
    const { manager, sync } = this.services;
    root.empty();
    root.addClass('vault-peers-view');
    const header = root.createDiv({ cls: 'vault-peers-header' });
    header.createEl('h4', { text: 'Paired devices' });
    const buttons = header.createDiv({ cls: 'vault-peers-header-actions' });
    buttons.createEl('button', { text: 'Add a device', cls: 'mod-cta' }).addEventListener('click', () => this.services.addDevice());
    buttons.createEl('button', { text: 'Join a device' }).addEventListener('click', () => this.services.joinDevice());

    const problem = root.createDiv({ cls: 'vault-peers-error vault-peers-sync-problem vault-peers-hidden' });
    const empty = root.createDiv({ cls: 'vault-peers-empty' });
    empty.createEl('p', { text: 'No devices are paired with this vault yet.' });
    empty.createEl('p', {
      text: 'On this device choose "Add a device" to show an invite; on the other device choose "Join a device" and scan or paste it.',
    });
    const list = root.createDiv({ cls: 'vault-peers-list' });
    const rows = new PeerRows(list, this.services.actions, () => Date.now());
    this.rows = rows;

    const conflictsSection = root.createDiv({ cls: 'vault-peers-section vault-peers-conflicts vault-peers-hidden' });
    conflictsSection.createEl('h4', { text: 'Conflicts' });
    conflictsSection.createEl('p', {
      cls: 'vault-peers-section-note',
      text: 'Two devices changed these files differently while apart. Both versions are kept: choose one, or keep both.',
    });
    const conflicts = conflictsSection.createDiv({ cls: 'vault-peers-conflict-list' });

    const activitySection = root.createDiv({ cls: 'vault-peers-section vault-peers-activity-section' });
    activitySection.createEl('h4', { text: 'Sync activity' });
    const activityEmpty = activitySection.createEl('p', { cls: 'vault-peers-section-note', text: 'Nothing to report yet: merges, conflicts and files that stay on this device appear here.' });
    const activity = activitySection.createDiv({ cls: 'vault-peers-activity-list' });

    const report = (error: unknown): void => void new Notice(`Vault Peers: ${shownReason(errorMessage(error))}`);
    const nameOf = (nodeId: string): string | undefined => manager.getPeer(nodeId)?.name;
    this.subscriptions.push(
      manager.peerStates$.subscribe((states) => {
        rows.update(states);
        empty.toggleClass('vault-peers-hidden', states.length > 0);
      }),
      sync.syncOff$.pipe(distinctUntilChanged((a, b) => a.join() === b.join())).subscribe(() => rows.redrawAll()),
      sync.problem$.subscribe((reason) => {
        problem.setText(reason ? shownReason(reason) : '');
        problem.toggleClass('vault-peers-hidden', !reason);
      }),
      sync.conflicts$.subscribe((copies) => {
        conflictsSection.toggleClass('vault-peers-hidden', copies.length === 0);
        renderConflicts(conflicts, copies, this.services.conflicts, report);
      }),
      // Device names can change while the log stands: both streams redraw it.
      combineLatest([sync.activityLog$, manager.peers$.pipe(map((peers) => peers.map((p) => p.name).join()))]).subscribe(([entries]) => {
        activityEmpty.toggleClass('vault-peers-hidden', entries.length > 0);
        renderActivity(activity, entries, nameOf);
      }),
    );
    this.registerInterval(window.setInterval(() => rows.refreshTimes(), 60_000));
  }

  override async onClose(): Promise<void> {
    for (const subscription of this.subscriptions.splice(0)) subscription.unsubscribe();
    this.rows = null;
  }

  /** For specs: the rows redrawn by the last change. */
  get lastRedrawCount(): number {
    return this.rows?.redrawn ?? 0;
  }
}
