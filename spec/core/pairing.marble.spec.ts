import { map } from 'rxjs';
import { REASON_AWAITING_APPROVAL, REASON_NOT_PAIRED, REFUSED_CANCELLED_INVITE, REFUSED_EXPIRED_INVITE, REFUSED_UNKNOWN_INVITE, REFUSED_USED_INVITE } from '../../src/core/messages';
import type { TestScheduler } from 'rxjs/testing';
import {
  INVITE_MEMORY_MS,
  InviteBook,
  type InviteState,
} from '../../src/core/invites';
import { FakeConnection, fakeSecret } from '../support/fakes';
import { harness, storedPeer } from '../support/manager-harness';
import { newTestScheduler } from '../support/marbles';

const address = { nodeId: 'm', addresses: ['127.0.0.1:4000'], relay: null };
const letter = (state: InviteState): string => state.status[0]!; // w(aiting) j(oined) e(xpired) c(ancelled)

describe('invite lifecycle (marbles)', () => {
  let scheduler: TestScheduler;
  let secrets: number;
  const book = (): InviteBook => new InviteBook(scheduler, () => fakeSecret(`s${(secrets += 1)}`));
  beforeEach(() => {
    scheduler = newTestScheduler();
    secrets = 0;
  });

  it('waits, then expires at exactly its time and refuses later use with the reason', () => {
    scheduler.run(({ expectObservable, hot }) => {
      const invites = book();
      const invite = invites.create(address, 'Laptop', 10 * 60_000);
      expectObservable(invite.state$.pipe(map(letter))).toBe('w 599999ms (e|)');
      hot('10m x').subscribe(() => expect(invites.redeem(fakeSecret('s1'))).toEqual({ ok: false, reason: REFUSED_EXPIRED_INVITE }));
    });
  });

  it('is not expired one millisecond before its time', () => {
    scheduler.run(({ hot }) => {
      const invites = book();
      invites.create(address, 'Laptop', 1_000);
      hot('999ms x').subscribe(() => expect(invites.openCount).toBe(1));
      hot('1s x').subscribe(() => expect(invites.openCount).toBe(0));
    });
  });

  it('joins once: a second use of the same invite is refused, and its expiry timer is gone', () => {
    scheduler.run(({ expectObservable, hot }) => {
      const invites = book();
      const invite = invites.create(address, 'Laptop');
      const peer = storedPeer('b');
      hot('5s x').subscribe(() => {
        const first = invites.redeem(fakeSecret('s1'));
        if (!first.ok) throw new Error('first use refused');
        first.complete(peer, '123 456');
        expect(invites.redeem(fakeSecret('s1'))).toEqual({ ok: false, reason: REFUSED_USED_INVITE });
      });
      expectObservable(invite.state$).toBe('w 4999ms (j|)', {
        w: { status: 'waiting' },
        j: { status: 'joined', peer, verificationCode: '123 456' },
      });
    });
    expect(scheduler.actions).toHaveLength(0);
  });

  it('a used invite cannot be cancelled or expire while its device is being stored', () => {
    scheduler.run(({ expectObservable, hot }) => {
      const invites = book();
      const invite = invites.create(address, 'Laptop', 1_000);
      hot('500ms x').subscribe(() => {
        const redemption = invites.redeem(fakeSecret('s1'));
        invite.cancel();
        expect(redemption.ok).toBe(true);
      });
      expectObservable(invite.state$.pipe(map(letter)), '^ 5s !').toBe('w');
    });
  });

  it('can be cancelled; a cancelled invite is refused with its reason', () => {
    scheduler.run(({ expectObservable, hot }) => {
      const invites = book();
      const invite = invites.create(address, 'Laptop');
      hot('2s x').subscribe(() => invite.cancel());
      hot('3s x').subscribe(() => expect(invites.redeem(fakeSecret('s1'))).toEqual({ ok: false, reason: REFUSED_CANCELLED_INVITE }));
      expectObservable(invite.state$.pipe(map(letter))).toBe('w 1999ms (c|)');
    });
  });

  it('several may be open at once, each used at most once; a forged secret is refused', () => {
    scheduler.run(() => {
      const invites = book();
      invites.create(address, 'Laptop');
      invites.create(address, 'Laptop');
      expect(invites.openCount).toBe(2);
      expect(invites.redeem(fakeSecret('forged'))).toEqual({ ok: false, reason: REFUSED_UNKNOWN_INVITE });
      expect(invites.redeem(fakeSecret('s2')).ok).toBe(true);
      expect(invites.openCount).toBe(1);
      expect(invites.redeem(fakeSecret('s1')).ok).toBe(true);
      invites.destroy();
    });
  });

  it('lets devices through for a while after the last invite ended, so late users hear why', () => {
    scheduler.run(({ hot }) => {
      const invites = book();
      invites.create(address, 'Laptop', 1_000);
      hot('2s x').subscribe(() => expect(invites.expectingDevices).toBe(true));
      hot(`${1_000 + INVITE_MEMORY_MS}ms x`).subscribe(() => expect(invites.expectingDevices).toBe(false));
    });
  });
});

describe('unknown devices under the ask policy (marbles)', () => {
  let scheduler: TestScheduler;
  beforeEach(() => {
    scheduler = newTestScheduler();
  });

  it('a request is listed and the device told to wait, refused on purpose; accepting takes it off the list', () => {
    scheduler.run(({ hot, cold, expectObservable }) => {
      const { manager, transport } = harness(scheduler, {
        options: { unknownDevicePolicy: 'ask' },
        dial: (id) => cold('-x', { x: new FakeConnection(id, 'outgoing') }),
      });
      const asking = new FakeConnection('p', 'incoming', { remoteName: 'Phone', remoteTicket: 'fake:p' });
      hot('-x').subscribe(() => transport.incoming.next(asking));
      hot('---x').subscribe(() => void manager.acceptRequest('p'));
      expectObservable(manager.pendingRequests$.pipe(map((list) => list.map((r) => r.name).join(',') || '-'))).toBe('ab-c', {
        a: '-',
        b: 'Phone',
        c: '-',
      });
      scheduler.flush();
      expect(asking.closeReasons).toEqual([REASON_AWAITING_APPROVAL]);
      expect(asking.closeKinds).toEqual(['refused']);
      expect(manager.getPeers()).toEqual([expect.objectContaining({ nodeId: 'p', name: 'Phone', ticket: 'fake:p' })]);
    });
  });

  it('ignoring drops the request; the device may ask again', () => {
    scheduler.run(({ hot }) => {
      const { manager, transport } = harness(scheduler, { options: { unknownDevicePolicy: 'ask' } });
      hot('-x---x').subscribe(() => transport.incoming.next(new FakeConnection('p', 'incoming', { remoteName: 'Phone' })));
      hot('---x').subscribe(() => void manager.ignoreRequest('p'));
      hot('--x---x').subscribe(() => expect(manager.getPendingRequests()).toHaveLength(1));
      hot('----x').subscribe(() => expect(manager.getPendingRequests()).toHaveLength(0));
    });
  });

  it('a blocked device is refused silently and counted, with no event and no request', () => {
    scheduler.run(({ hot }) => {
      const { manager, transport } = harness(scheduler, { options: { unknownDevicePolicy: 'ask' } });
      const events: string[] = [];
      manager.events$.subscribe((e) => events.push(e.type));
      const attempts = [1, 2, 3].map(() => new FakeConnection('p', 'incoming', { remoteName: 'Phone' }));
      let next = 0;
      hot('-a').subscribe(() => transport.incoming.next(attempts[next++]!));
      hot('--b').subscribe(() => void manager.blockDevice('p'));
      hot('---c-d').subscribe(() => transport.incoming.next(attempts[next++]!));
      scheduler.flush();
      expect(events).toEqual(['pairing-requested']);
      expect(manager.getPendingRequests()).toEqual([]);
      expect(manager.getBlockedDevices()).toEqual([expect.objectContaining({ nodeId: 'p', name: 'Phone', refusals: 2 })]);
      expect(attempts.slice(1).map((a) => a.closeReasons)).toEqual([[REASON_NOT_PAIRED], [REASON_NOT_PAIRED]]);
      expect(manager.admits('p')).toBe(false);
      expect(manager.getBlockedDevices()[0]?.refusals).toBe(3);
    });
  });

  it('under reject, a stranger is refused and nothing is listed', () => {
    scheduler.run(({ hot }) => {
      const { manager, transport } = harness(scheduler);
      const stranger = new FakeConnection('p', 'incoming');
      hot('-x').subscribe(() => transport.incoming.next(stranger));
      scheduler.flush();
      expect(stranger.closeKinds).toEqual(['refused']);
      expect(manager.getPendingRequests()).toEqual([]);
      expect(manager.admits('p')).toBe(false);
      manager.setUnknownDevicePolicy('ask');
      expect(manager.admits('p')).toBe(true);
    });
  });

  it('a paired device may always get through', () => {
    scheduler.run(() => {
      const { manager } = harness(scheduler, { peers: [storedPeer('b')] });
      expect(manager.admits('b')).toBe(true);
    });
  });
});
