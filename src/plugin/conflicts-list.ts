import { shownReason } from '../app/display';
import type { ConflictChoice, ConflictCopy } from '../sync';

/** What a person can do with a conflict copy. */
export interface ConflictActions {
  /** Opens a file in a new tab. */
  open(path: string): void;
  /** Settles one conflict; rejects with a reason a person can read (the file changed meanwhile...). */
  resolve(copy: string, choice: ConflictChoice): Promise<void>;
}

const CHOICES: readonly { choice: ConflictChoice; text: string; tip: string }[] = [
  { choice: 'keep-this', text: 'Keep this copy', tip: 'The copy replaces the file it belongs to, on every device.' },
  { choice: 'keep-that', text: 'Keep the original', tip: 'The copy goes to the trash, on every device.' },
  { choice: 'keep-both', text: 'Keep both', tip: 'The copy gets an ordinary name ("name 2") and stays beside the file.' },
];

/**
 * The conflict copies in the vault: two devices changed one attachment (or
 * created one path) differently while apart, and both versions were kept.
 * Each row: the copy, the file it belongs to, and the three answers. Notes
 * never get here: concurrent edits to a note are merged.
 */
export function renderConflicts(list: HTMLElement, copies: readonly ConflictCopy[], actions: ConflictActions, report: (error: unknown) => void): void {
  list.empty();
  list.toggleClass('vault-peers-hidden', copies.length === 0);
  for (const copy of copies) {
    const row = list.createDiv({ cls: 'vault-peers-conflict' });
    row.dataset.copy = copy.copy;
    const info = row.createDiv({ cls: 'vault-peers-row-info' });
    const name = info.createEl('a', { cls: 'vault-peers-conflict-copy', text: shownReason(copy.copy), attr: { href: '#' } });
    name.addEventListener('click', (event) => {
      event.preventDefault();
      actions.open(copy.copy);
    });
    info.createDiv({
      cls: 'vault-peers-row-detail',
      text: copy.originalExists ? `A second version of ${shownReason(copy.original)}` : `A second version of ${shownReason(copy.original)}, which is gone now`,
    });
    const buttons = row.createDiv({ cls: 'vault-peers-row-actions' });
    const all: HTMLButtonElement[] = [];
    const open = buttons.createEl('button', { text: 'Open' });
    open.addEventListener('click', () => actions.open(copy.copy));
    for (const { choice, text, tip } of CHOICES) {
      if (choice === 'keep-that' && !copy.originalExists) continue;
      const button = buttons.createEl('button', { text, attr: { 'aria-label': tip } });
      all.push(button);
      button.addEventListener('click', () => {
        for (const b of all) b.disabled = true;
        actions.resolve(copy.copy, choice).catch((error: unknown) => {
          for (const b of all) b.disabled = false;
          report(error);
        });
      });
    }
  }
}
