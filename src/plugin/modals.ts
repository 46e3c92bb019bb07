import { Modal, type App } from 'obsidian';
import QRCode from 'qrcode';
import type { Subscription } from 'rxjs';
import { shownName, shownReason } from '../app/display';
import { VaultPeersError, errorMessage } from '../core/errors';
import { checkInviteExpiry, looksLikeInvite, parseInvite } from '../core/pairing/invite-codec';
import type { OpenInvite } from '../core/pairing/invite-book';
import type { PeerManager } from '../core/peer-manager';
import { shortId } from './format';

/** Shows a one-time invite as a QR code and text, and follows it until a device joins. */
export class InviteModal extends Modal {
  private invite: OpenInvite | null = null;
  private subscription: Subscription | null = null;

  constructor(
    app: App,
    private readonly manager: PeerManager,
  ) {
    super(app);
  }

  override onOpen(): void {
    const { contentEl } = this;
    contentEl.addClass('vault-peers-invite');
    this.setTitle('Add a device');
    let invite: OpenInvite;
    try {
      invite = this.manager.pairing.createInvite();
    } catch (error) {
      contentEl.createEl('p', { cls: 'vault-peers-error', text: shownReason(errorMessage(error)) });
      return;
    }
    this.invite = invite;
    contentEl.createEl('p', { text: 'On the other device, open Vault Peers and choose "Join a device". Scan this code, or copy the invite below.' });
    const image = contentEl.createEl('img', { cls: 'vault-peers-qr', attr: { alt: 'Invite as a QR code' } });
    // SVG: crisp at any size, and no canvas needed.
    QRCode.toString(invite.text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }).then(
      (svg) => image.setAttr('src', `data:image/svg+xml;base64,${btoa(svg)}`),
      () => image.remove(),
    );
    const text = contentEl.createEl('code', { cls: 'vault-peers-invite-text', text: invite.text });
    const buttons = contentEl.createDiv({ cls: 'vault-peers-modal-buttons' });
    const copy = buttons.createEl('button', { text: 'Copy invite', cls: 'mod-cta' });
    copy.addEventListener('click', () => {
      void navigator.clipboard.writeText(invite.text).then(() => copy.setText('Copied'));
    });
    const cancel = buttons.createEl('button', { text: 'Cancel' });
    cancel.addEventListener('click', () => this.close());
    const status = contentEl.createDiv({ cls: 'vault-peers-invite-status' });
    const expires = new Date(invite.expiresAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    this.subscription = invite.state$.subscribe((state) => {
      status.empty();
      switch (state.status) {
        case 'waiting':
          status.setText(`Waiting for the other device… The invite works once, until ${expires}.`);
          break;
        case 'joined':
          text.remove();
          image.remove();
          copy.remove();
          cancel.setText('Done');
          status.createEl('p', { text: `Paired with ${shownName(state.peer.name, state.peer.nodeId)} (${shortId(state.peer.nodeId)}).` });
          status.createEl('p', { text: 'Check that the other device shows the same code:' });
          status.createEl('p', { cls: 'vault-peers-code', text: state.verificationCode });
          break;
        case 'expired':
          status.setText('The invite expired. Close this and choose "Add a device" again for a new one.');
          break;
        case 'cancelled':
          status.setText('The invite was cancelled.');
          break;
      }
    });
  }

  override onClose(): void {
    this.invite?.cancel();
    this.subscription?.unsubscribe();
    this.contentEl.empty();
  }
}

/** What the pasted text is, or what is wrong with it. */
export function describeJoinInput(text: string, parseTicket: (ticket: string) => unknown, now: number): { ok: boolean; message: string } {
  if (text.trim().length === 0) return { ok: false, message: '' };
  try {
    if (looksLikeInvite(text)) {
      const invite = parseInvite(text);
      checkInviteExpiry(invite, now);
      return { ok: true, message: `Invite from ${shownName(invite.inviterName, invite.address.nodeId)}.` };
    }
    parseTicket(text);
    return { ok: true, message: 'A plain ticket: the other device must already know this one, or accept it.' };
  } catch (error) {
    return { ok: false, message: shownReason(errorMessage(error)) };
  }
}

/** Paste (or scan elsewhere and paste) an invite or ticket; checked as you type. */
export class JoinModal extends Modal {
  private closed = false;

  constructor(
    app: App,
    private readonly manager: PeerManager,
    private readonly parseTicket: (ticket: string) => unknown,
    private readonly initialText = '',
  ) {
    super(app);
  }

  override onOpen(): void {
    const { contentEl } = this;
    contentEl.addClass('vault-peers-join');
    this.setTitle('Join a device');
    contentEl.createEl('p', { text: 'Paste the invite shown on the other device.' });
    const input = contentEl.createEl('textarea', { cls: 'vault-peers-join-input', attr: { rows: '4', spellcheck: 'false', placeholder: 'VP1…' } });
    const feedback = contentEl.createDiv({ cls: 'vault-peers-join-feedback' });
    const buttons = contentEl.createDiv({ cls: 'vault-peers-modal-buttons' });
    const join = buttons.createEl('button', { text: 'Join', cls: 'mod-cta' });
    join.disabled = true;
    buttons.createEl('button', { text: 'Cancel' }).addEventListener('click', () => this.close());
    const check = (): void => {
      const result = describeJoinInput(input.value, this.parseTicket, Date.now());
      feedback.setText(result.message);
      feedback.toggleClass('vault-peers-error', !result.ok && result.message !== '');
      join.disabled = !result.ok;
    };
    input.addEventListener('input', check);
    if (this.initialText) {
      input.value = this.initialText;
      check();
    }
    join.addEventListener('click', () => {
      join.disabled = true;
      input.disabled = true;
      feedback.removeClass('vault-peers-error');
      feedback.setText('Connecting to the other device…');
      void this.join(input.value).then(
        (message) => {
          if (this.closed) return;
          feedback.empty();
          for (const line of message) feedback.createEl('p', { text: line.text, cls: line.cls ?? '' });
          join.remove();
        },
        (error: unknown) => {
          if (this.closed) return;
          feedback.setText(shownReason(error instanceof VaultPeersError ? error.message : `Joining failed: ${errorMessage(error)}`));
          feedback.addClass('vault-peers-error');
          input.disabled = false;
          join.disabled = false;
        },
      );
    });
  }

  private async join(text: string): Promise<{ text: string; cls?: string }[]> {
    if (looksLikeInvite(text)) {
      const joined = await this.manager.pairing.joinWithInvite(text);
      return [
        { text: `Paired with ${shownName(joined.peer.name, joined.peer.nodeId)} (${shortId(joined.peer.nodeId)}).` },
        { text: 'Check that the other device shows the same code:' },
        { text: joined.verificationCode, cls: 'vault-peers-code' },
      ];
    }
    const peer = await this.manager.addPeer(text, '');
    return [{ text: `Added ${shownName(peer.name, peer.nodeId)} (${shortId(peer.nodeId)}). It connects once the other device accepts this one.` }];
  }

  override onClose(): void {
    this.closed = true;
    this.contentEl.empty();
  }
}

export class ConfirmModal extends Modal {
  constructor(
    app: App,
    private readonly title: string,
    private readonly message: string,
    private readonly confirmText: string,
    private readonly onConfirm: () => void,
  ) {
    super(app);
  }

  override onOpen(): void {
    this.setTitle(this.title);
    this.contentEl.createEl('p', { text: this.message });
    const buttons = this.contentEl.createDiv({ cls: 'vault-peers-modal-buttons' });
    buttons.createEl('button', { text: this.confirmText, cls: 'mod-warning' }).addEventListener('click', () => {
      this.onConfirm();
      this.close();
    });
    buttons.createEl('button', { text: 'Cancel' }).addEventListener('click', () => this.close());
  }

  override onClose(): void {
    this.contentEl.empty();
  }
}

export class RenameModal extends Modal {
  constructor(
    app: App,
    private readonly current: string,
    private readonly onRename: (name: string) => Promise<void>,
  ) {
    super(app);
  }

  override onOpen(): void {
    this.setTitle('Rename device');
    const input = this.contentEl.createEl('input', { attr: { type: 'text', value: this.current } });
    input.value = this.current;
    const error = this.contentEl.createDiv({ cls: 'vault-peers-error' });
    const buttons = this.contentEl.createDiv({ cls: 'vault-peers-modal-buttons' });
    const save = buttons.createEl('button', { text: 'Save', cls: 'mod-cta' });
    buttons.createEl('button', { text: 'Cancel' }).addEventListener('click', () => this.close());
    save.addEventListener('click', () => {
      this.onRename(input.value).then(
        () => this.close(),
        (e: unknown) => error.setText(shownReason(errorMessage(e))),
      );
    });
  }

  override onClose(): void {
    this.contentEl.empty();
  }
}
