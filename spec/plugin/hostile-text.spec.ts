/**
 * @jest-environment jsdom
 */
/**
 * Text another device chooses (its name, a close reason) reaches the view,
 * the settings tab, the modals and the notices only after safeRemoteText:
 * no control characters, no bidi overrides, a capped length.
 */
import { Observable, of } from 'rxjs';
import { isSafeRemoteText } from '../../src/core/remote-text';
import { encodeInvite, parseInvite } from '../../src/core/pairing/invite-codec';
import { PeerManager } from '../../src/core/peer-manager';
import { describeJoinInput, InviteModal } from '../../src/plugin/modals';
import { showLoadProblems, showPeerNotices } from '../../src/plugin/notices';
import { PeerRows } from '../../src/plugin/peer-row';
import { VaultPeersSettingTab } from '../../src/plugin/settings-tab';
import { DEFAULT_SETTINGS } from '../../src/app/settings';
import { App, Plugin } from '../support/obsidian-mock';
import { FakeConnection, FakeSyncEngine, FakeTransport, MemoryStorage, fakeSecret } from '../support/fakes';
import { LOCAL_ID, storedPeer } from '../support/manager-harness';

/** Retitles a terminal, hides text behind a C1 CSI, reverses what follows, and is far too long. */
const HOSTILE = `Evil\u001b]0;pwned\u0007 \u009b2J\u202Egnp.exe\u2066x\u2069 ${'A'.repeat(300)}`;
const HOSTILE_REASON = `Refused\u001b[2K\u001b[1A \u202Eyou are paired\u202C\u0085 ${'B'.repeat(600)}`;

const noop = (): void => undefined;
const actions = { connect: noop, disconnect: noop, rename: noop, setAutoConnect: noop, remove: noop, setSync: noop, syncOn: () => true };

function expectSafe(text: string | null | undefined): void {
  expect(text).toBeTruthy();
  expect(isSafeRemoteText(text!)).toBe(true);
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('hostile text from other devices in the plugin', () => {
  it('a peer row shows a safe name and a safe last error', async () => {
    const transport = new FakeTransport(LOCAL_ID, () => new Observable((s) => s.error(new Error(HOSTILE_REASON))));
    const storage = MemoryStorage.with({ peers: [storedPeer('b', { name: HOSTILE.slice(0, 100) })] });
    const manager = await PeerManager.open({ transport, syncEngine: new FakeSyncEngine(), storage, random: () => 1, backoff: { baseMs: 3_600_000 } });
    await manager.connectToPeer('b');
    const list = document.body.createDiv();
    new PeerRows(list, actions, () => Date.now()).update(manager.getPeerStates());
    expectSafe(list.querySelector('.vault-peers-name')?.textContent);
    expect(list.querySelector('.vault-peers-name')?.textContent).toMatch(/^Evil/);
    expectSafe(list.querySelector('.vault-peers-error')?.textContent);
    expect([...list.querySelector('.vault-peers-error')!.textContent!].length).toBeLessThanOrEqual(300);
    await manager.destroy();
  });

  it('pairing requests and blocked devices in the settings tab show safe names', async () => {
    const storage = MemoryStorage.with({
      peers: [],
      pendingRequests: [{ nodeId: 'p', name: HOSTILE.slice(0, 100), ticket: 'fake:p', requestedAt: '2026-11-25T10:00:00Z' }],
      blockedDevices: [{ nodeId: 'q', name: HOSTILE.slice(0, 100), blockedAt: '2026-11-25T10:00:00Z', refusals: 3 }],
    });
    const manager = await PeerManager.open({ transport: new FakeTransport(LOCAL_ID), syncEngine: new FakeSyncEngine(), storage });
    const app = new App();
    const tab = new VaultPeersSettingTab(app as never, new Plugin(app, { id: 'vault-peers', version: '0' }) as never, {
      manager: () => manager,
      actions,
      settings: () => DEFAULT_SETTINGS,
      settings$: of(DEFAULT_SETTINGS),
      saveSettings: async () => undefined,
      configDir: '.obsidian',
      applySyncSettings: () => undefined,
      disabledReason: () => null,
    });
    tab.display();
    const names = Array.from(tab.containerEl.querySelectorAll('.vault-peers-requests .setting-item-name, .vault-peers-blocked .setting-item-name'));
    expect(names).toHaveLength(2);
    for (const name of names) expectSafe(name.textContent);
    tab.hide();
    await manager.destroy();
  });

  it('notices for a pairing, a request and a refusal carry safe text', async () => {
    const shown: string[] = [];
    const transport = new FakeTransport(LOCAL_ID, () => of(new FakeConnection('x', 'outgoing')));
    let n = 0;
    const manager = await PeerManager.open({
      transport,
      syncEngine: new FakeSyncEngine(),
      storage: new MemoryStorage(),
      deviceName: () => 'Laptop',
      newSecret: () => fakeSecret(`s${(n += 1)}`),
    });
    const notices = showPeerNotices(manager, (text) => shown.push(text));
    manager.pairing.createInvite();
    transport.incoming.next(new FakeConnection('b', 'incoming', { inviteSecret: fakeSecret('s1'), remoteName: HOSTILE, remoteTicket: 'fake:b' }));
    manager.pairing.setUnknownDevicePolicy('ask');
    transport.incoming.next(new FakeConnection('c', 'incoming', { remoteName: HOSTILE, remoteTicket: 'fake:c' }));
    transport.incoming.next(new FakeConnection('d', 'incoming', { inviteSecret: 'f'.repeat(32), remoteName: HOSTILE }));
    await until(() => shown.length >= 3);
    expect(shown).toHaveLength(3);
    expect(shown.filter((text) => /^Vault Peers: paired with Evil ?\]0;pwned 2J gnp\.exe x A+…\.$/.test(text))).toHaveLength(1);
    expect(shown.filter((text) => /^Vault Peers: Evil.* asks to pair\./.test(text))).toHaveLength(1);
    expect(shown.filter((text) => /^Vault Peers: refused a device: This invite is not valid/.test(text))).toHaveLength(1);
    for (const text of shown) expectSafe(text);
    showLoadProblems([HOSTILE_REASON], (text) => shown.push(text));
    expectSafe(shown.at(-1));
    notices.unsubscribe();
    await manager.destroy();
  });

  it('the join modal names the inviter safely, and the invite modal names the joiner safely', async () => {
    const transport = new FakeTransport(LOCAL_ID, () => of(new FakeConnection('x', 'outgoing')));
    let n = 0;
    const manager = await PeerManager.open({
      transport,
      syncEngine: new FakeSyncEngine(),
      storage: new MemoryStorage(),
      deviceName: () => 'Laptop',
      newSecret: () => fakeSecret(`s${(n += 1)}`),
    });
    const hostileInvite = encodeInvite({ ...parseInvite(manager.pairing.createInvite().text), inviterName: '\u202Eevil\u009b' });
    const checked = describeJoinInput(hostileInvite, () => ({ nodeId: 'x' }), Date.now());
    expect(checked.ok).toBe(true);
    expectSafe(checked.message);
    expect(checked.message).toBe('Invite from evil.');

    const modal = new InviteModal(new App() as never, manager);
    modal.open();
    transport.incoming.next(new FakeConnection('b', 'incoming', { inviteSecret: fakeSecret('s2'), remoteName: HOSTILE, remoteTicket: 'fake:b' }));
    const status = (): string => modal.contentEl.querySelector('.vault-peers-invite-status')?.textContent ?? '';
    await until(() => /Paired/.test(status()));
    expectSafe(status());
    modal.close();
    await manager.destroy();
  });
});
