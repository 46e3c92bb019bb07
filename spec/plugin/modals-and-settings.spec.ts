/**
 * @jest-environment jsdom
 */
import { of } from 'rxjs';
import { InvalidTicketError } from '../../src/core/errors';
import { PeerManager } from '../../src/core/peer-manager';
import { InviteModal, JoinModal, describeJoinInput } from '../../src/plugin/modals';
import { VaultPeersSettingTab } from '../../src/plugin/settings-tab';
import { DEFAULT_SETTINGS, migrateSettings, readSettings, withSettings, type DeviceSettings } from '../../src/app/settings';
import { App, Plugin } from '../support/obsidian-mock';
import { BehaviorSubject } from 'rxjs';
import { FakeConnection, FakeSyncEngine, FakeTransport, MemoryStorage, fakeSecret } from '../support/fakes';
import { LOCAL_ID, storedPeer } from '../support/manager-harness';

const parseFakeTicket = (ticket: string) => new FakeTransport('x').parseTicket(ticket);
/** Waits until `check` holds (saves and the code's SHA-256 are asynchronous), or fails after 5 s. */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function manager(storage = new MemoryStorage(), transport = new FakeTransport(LOCAL_ID, (id) => of(new FakeConnection(id, 'outgoing')))) {
  let n = 0;
  return {
    transport,
    manager: await PeerManager.open({
      transport,
      syncEngine: new FakeSyncEngine(),
      storage,
      deviceName: () => 'Laptop',
      newSecret: () => fakeSecret(`s${(n += 1)}`),
    }),
  };
}

describe('the join modal', () => {
  it('checks the input as it is typed, with text a person can act on', async () => {
    const { manager: m } = await manager();
    const invite = m.pairing.createInvite().text;
    expect(describeJoinInput('', parseFakeTicket, Date.now())).toEqual({ ok: false, message: '' });
    expect(describeJoinInput(invite, parseFakeTicket, Date.now())).toEqual({ ok: true, message: 'Invite from Laptop.' });
    expect(describeJoinInput(invite.slice(0, -3), parseFakeTicket, Date.now()).message).toMatch(/damaged/);
    expect(describeJoinInput(invite, parseFakeTicket, Date.now() + 3_600_000).message).toMatch(/expired/);
    expect(describeJoinInput('fake:abc', parseFakeTicket, Date.now()).ok).toBe(true);
    expect(describeJoinInput('hello', parseFakeTicket, Date.now()).message).toBe(InvalidTicketError.malformed().message);
    await m.destroy();
  });

  it('enables Join only for a usable invite, joins, and shows the verification code', async () => {
    const { manager: host } = await manager();
    const text = host.pairing.createInvite().text;
    await host.destroy();
    const transport = new FakeTransport('j', (id) => of(new FakeConnection(id, 'outgoing', { remoteName: 'Laptop', remoteTicket: 'fake:m' })));
    const { manager: m } = await manager(new MemoryStorage(), transport);
    const modal = new JoinModal(new App() as never, m, parseFakeTicket);
    modal.open();
    const input = modal.contentEl.querySelector('textarea')!;
    const join = Array.from(modal.contentEl.querySelectorAll('button')).find((b) => b.textContent === 'Join')!;
    const feedback = modal.contentEl.querySelector('.vault-peers-join-feedback')!;
    input.value = 'VP1NOPE';
    input.dispatchEvent(new Event('input'));
    expect(join.disabled).toBe(true);
    expect(feedback.classList.contains('vault-peers-error')).toBe(true);
    expect(feedback.textContent).toMatch(/damaged/);
    input.value = text;
    input.dispatchEvent(new Event('input'));
    expect(join.disabled).toBe(false);
    join.click();
    await until(() => /Paired/.test(feedback.textContent ?? ''));
    expect(feedback.textContent).toMatch(/^Paired with Laptop \(m\)\.Check that the other device shows the same code:\d{3} \d{3}$/);
    expect(m.getPeers().map((p) => p.name)).toEqual(['Laptop']);
    modal.close();
    await m.destroy();
  });

  it('shows why joining failed and lets the person try again', async () => {
    const { manager: host } = await manager();
    const text = host.pairing.createInvite().text;
    await host.destroy();
    const transport = new FakeTransport('j', () => new (require('rxjs').Observable)((s: { error: (e: Error) => void }) => s.error(new InvalidTicketError('malformed', 'This invite was already used. Ask the other device for a new one.'))));
    const { manager: m } = await manager(new MemoryStorage(), transport);
    const modal = new JoinModal(new App() as never, m, parseFakeTicket);
    modal.open();
    const input = modal.contentEl.querySelector('textarea')!;
    input.value = text;
    input.dispatchEvent(new Event('input'));
    Array.from(modal.contentEl.querySelectorAll('button')).find((b) => b.textContent === 'Join')!.click();
    await until(() => input.disabled === false);
    expect(modal.contentEl.querySelector('.vault-peers-join-feedback')?.textContent).toBe('This invite was already used. Ask the other device for a new one.');
    expect(input.disabled).toBe(false);
    modal.close();
    await m.destroy();
  });
});

describe('the invite modal', () => {
  it('shows the invite as QR code and text, follows it to joined with the code, and cancels it if closed early', async () => {
    const { manager: m, transport } = await manager();
    const modal = new InviteModal(new App() as never, m);
    modal.open();
    await until(() => modal.contentEl.querySelector('img.vault-peers-qr')?.getAttribute('src') !== null);
    const text = modal.contentEl.querySelector('.vault-peers-invite-text')!.textContent!;
    expect(text).toMatch(/^VP1[A-Z2-7]+$/);
    expect(modal.contentEl.querySelector('img.vault-peers-qr')?.getAttribute('src')).toMatch(/^data:image\/svg\+xml;base64,/);
    expect(modal.contentEl.querySelector('.vault-peers-invite-status')?.textContent).toMatch(/^Waiting for the other device/);
    transport.incoming.next(new FakeConnection('b', 'incoming', { inviteSecret: fakeSecret('s1'), remoteName: 'Desktop', remoteTicket: 'fake:b' }));
    await until(() => /Paired/.test(modal.contentEl.querySelector('.vault-peers-invite-status')?.textContent ?? ''));
    const status = modal.contentEl.querySelector('.vault-peers-invite-status')!.textContent!;
    expect(status).toMatch(/^Paired with Desktop \(b\)\.Check that the other device shows the same code:\d{3} \d{3}$/);
    modal.close();

    const second = new InviteModal(new App() as never, m);
    second.open();
    second.close();
    // Closing while it waited cancelled it: its secret no longer works.
    const late = new FakeConnection('c', 'incoming', { inviteSecret: fakeSecret('s2') });
    transport.incoming.next(late);
    expect(late.closeReasons[0]).toMatch(/cancelled/);
    await m.destroy();
  });
});

describe('settings', () => {
  it('reads each stored field, falling back per field', () => {
    expect(readSettings(null)).toEqual(DEFAULT_SETTINGS);
    expect(readSettings({ settings: { deviceName: ' Desk ', unknownDevices: 'ask', relayMode: 'nope', port: 70_000 } })).toEqual({
      ...DEFAULT_SETTINGS,
      deviceName: 'Desk',
      unknownDevices: 'ask',
    });
    expect(readSettings({ settings: { port: 4242, relayMode: 'disabled' } })).toEqual({ ...DEFAULT_SETTINGS, port: 4242, relayMode: 'disabled' });
    expect(readSettings({ settings: { deviceName: 'x'.repeat(500) } }).deviceName).toHaveLength(100);
  });

  it("one schema for data.json and peers.json: the plugin's old `bindPort` is read as `port`, and migrated keeping every other key", () => {
    const old = { peers: [], other: { kept: true }, settings: { bindPort: 4242, deviceName: 'Desk', theirs: [1, 2] } };
    expect(readSettings(old).port).toBe(4242);
    expect(migrateSettings(old)).toEqual({ peers: [], other: { kept: true }, settings: { port: 4242, deviceName: 'Desk', theirs: [1, 2] } });
    // Both spellings: today's wins, the old one goes.
    expect(migrateSettings({ settings: { bindPort: 1, port: 2 } })).toEqual({ settings: { port: 2 } });
    expect(migrateSettings({ settings: { port: 2 } })).toBeNull();
    expect(migrateSettings({ peers: [] })).toBeNull();
    // A change written into an old document leaves it in today's spelling.
    expect(withSettings(old, { deviceName: 'Work' })).toEqual({ ...old, settings: { port: 4242, deviceName: 'Work', theirs: [1, 2] } });
  });

  it('the settings tab saves what is changed and its buttons act on the manager', async () => {
    const storage = MemoryStorage.with({ peers: [storedPeer('b')], pendingRequests: [{ nodeId: 'p', name: 'Phone', ticket: 'fake:p', requestedAt: '2026-11-25T10:00:00Z' }], blockedDevices: [{ nodeId: 'q', name: 'Pest', blockedAt: '2026-11-25T10:00:00Z', refusals: 3 }] });
    const { manager: m } = await manager(storage);
    const settings$ = new BehaviorSubject<DeviceSettings>(DEFAULT_SETTINGS);
    const calls: string[] = [];
    const app = new App();
    const tab = new VaultPeersSettingTab(app as never, new Plugin(app, { id: 'vault-peers', version: '0' }) as never, {
      manager: () => m,
      actions: {
        connect: () => undefined,
        disconnect: () => undefined,
        rename: () => undefined,
        setAutoConnect: () => undefined,
        remove: () => undefined,
        syncOn: (id) => !settings$.value.syncOff.includes(id),
        setSync: (id, on) => {
          calls.push(`sync ${id} ${on}`);
          settings$.next({ ...settings$.value, syncOff: on ? [] : [id] });
        },
      },
      settings: () => settings$.value,
      settings$,
      saveSettings: async (change) => settings$.next({ ...settings$.value, ...change }),
      configDir: '.config-of-this-vault',
      applySyncSettings: () => calls.push('apply'),
      disabledReason: () => null,
    });
    const settings = { get value() { return settings$.value; } };
    tab.display();
    const el = tab.containerEl;
    expect(Array.from(el.querySelectorAll('.setting-item-heading')).map((h) => h.textContent)).toEqual([
      'This device',
      'Network',
      'Sync',
      'Unknown devices',
      'Paired devices',
    ]);
    const name = el.querySelector<HTMLInputElement>('input')!;
    name.value = 'Work laptop';
    name.dispatchEvent(new Event('input'));
    const policy = Array.from(el.querySelectorAll('select'))[1]!;
    policy.value = 'ask';
    policy.dispatchEvent(new Event('change'));
    expect(settings.value).toMatchObject({ deviceName: 'Work laptop', unknownDevices: 'ask' });
    expect(m.pairing.unknownDevicePolicy).toBe('ask');
    expect(el.querySelector('.vault-peers-requests')?.textContent).toContain('Phone (p) asks to pair');
    expect(el.querySelector('.vault-peers-blocked')?.textContent).toContain('3 requests refused');
    expect(el.querySelectorAll('.vault-peers-row')).toHaveLength(1);
    const button = (text: string) => Array.from(el.querySelectorAll('button')).find((b) => b.textContent === text)!;
    button('Accept').click();
    await until(() => m.getPeers().length === 2);
    expect(m.getPeers().map((p) => p.nodeId)).toEqual(['b', 'p']);
    expect(el.querySelectorAll('.vault-peers-row')).toHaveLength(2);
    button('Unblock').click();
    await until(() => m.pairing.getBlockedDevices().length === 0);
    expect(m.pairing.getBlockedDevices()).toEqual([]);
    tab.hide();
    expect(calls).toEqual(['apply']);
    await m.destroy();
  });

  it('the Sync section says the config folder is not synced, and saves what to sync; each device has its own "Sync" switch', async () => {
    const { manager: m } = await manager(MemoryStorage.with({ peers: [storedPeer('b')] }));
    const settings$ = new BehaviorSubject<DeviceSettings>(DEFAULT_SETTINGS);
    const calls: string[] = [];
    const app = new App();
    const tab = new VaultPeersSettingTab(app as never, new Plugin(app, { id: 'vault-peers', version: '0' }) as never, {
      manager: () => m,
      actions: {
        connect: () => undefined,
        disconnect: () => undefined,
        rename: () => undefined,
        setAutoConnect: () => undefined,
        remove: () => undefined,
        syncOn: (id) => !settings$.value.syncOff.includes(id),
        setSync: (id, on) => {
          calls.push(`sync ${id} ${on}`);
          settings$.next({ ...settings$.value, syncOff: on ? [] : [id] });
        },
      },
      settings: () => settings$.value,
      settings$,
      saveSettings: async (change) => settings$.next({ ...settings$.value, ...change }),
      configDir: '.config-of-this-vault',
      applySyncSettings: () => calls.push('apply'),
      disabledReason: () => null,
    });
    tab.display();
    const el = tab.containerEl;
    expect(el.querySelector('.vault-peers-config-note')?.textContent).toMatch(/The config folder \(\.config-of-this-vault\) is not.*plugins, themes, hotkeys/);
    const setting = (name: string) => Array.from(el.querySelectorAll('.setting-item')).find((s) => s.querySelector('.setting-item-name')?.textContent === name)!;
    (setting('Sync attachments').querySelector('.checkbox-container') as HTMLElement).click();
    const exclude = setting('Leave out').querySelector('textarea')!;
    exclude.value = 'Private/**\n\n  *.mp4  \nPrivate/**';
    exclude.dispatchEvent(new Event('input'));
    const size = setting('Largest file, in megabytes').querySelector('input')!;
    size.value = 'lots';
    size.dispatchEvent(new Event('input'));
    expect(setting('Largest file, in megabytes').querySelector('.setting-item-description')?.textContent).toMatch(/Enter a number/);
    size.value = '2.5';
    size.dispatchEvent(new Event('input'));
    expect(settings$.value).toMatchObject({ attachments: false, exclude: ['Private/**', '*.mp4'], maxFileBytes: 2.5 * 1024 * 1024 });
    // A device's "Sync" switch: the row then says sync is off.
    const row = el.querySelector<HTMLElement>('[data-node-id="b"]')!;
    const sync = row.querySelector<HTMLInputElement>('.vault-peers-sync-toggle input')!;
    expect(sync.checked).toBe(true);
    sync.checked = false;
    sync.dispatchEvent(new Event('change'));
    expect(calls).toEqual(['sync b false']);
    expect(el.querySelector('[data-node-id="b"] .vault-peers-badge-off')?.textContent).toBe('Sync off');
    tab.hide();
    expect(calls).toEqual(['sync b false', 'apply']);
    await m.destroy();
  });
});
