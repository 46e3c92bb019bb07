import { map } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { REFUSED_CANCELLED_INVITE, REFUSED_EXPIRED_INVITE, REFUSED_UNKNOWN_INVITE, REFUSED_USED_INVITE } from '../../../src/core/messages';
import { INVITE_MEMORY_MS, InviteBook, type InviteState } from '../../../src/core/pairing/invite-book';
import { fakeSecret } from '../../support/fakes';
import { storedPeer } from '../../support/manager-harness';
import { newTestScheduler } from '../../support/marbles';

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
    scheduler.run(({ expectObservable }) => {
      const invites = book();
      const invite = invites.create(address, 'Laptop', 1_000);
      expectObservable(invite.state$.pipe(map(letter))).toBe('w 999ms (e|)');
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
      const first = invites.create(address, 'Laptop');
      const second = invites.create(address, 'Laptop');
      expect(invites.redeem(fakeSecret('forged'))).toEqual({ ok: false, reason: REFUSED_UNKNOWN_INVITE });
      expect(invites.redeem(fakeSecret('s2')).ok).toBe(true);
      expect(invites.redeem(fakeSecret('s2'))).toEqual({ ok: false, reason: REFUSED_USED_INVITE });
      expect(invites.redeem(fakeSecret('s1')).ok).toBe(true);
      const ends: string[] = [];
      first.state$.subscribe({ complete: () => ends.push('first') });
      second.state$.subscribe({ complete: () => ends.push('second') });
      // Destroying the book ends even invites whose device is still being stored: nothing waits on them any more.
      invites.destroy();
      expect(ends).toEqual(['first', 'second']);
    });
  });

  it('recognises an ended invite for INVITE_MEMORY_MS after it ended, so a late user hears why; a forged one never', () => {
    scheduler.run(({ hot }) => {
      const invites = book();
      const invite = invites.create(address, 'Laptop', 1_000);
      const cancelled = invites.create(address, 'Laptop');
      hot('500ms x').subscribe(() => cancelled.cancel());
      hot('-x').subscribe(() => expect(invites.recognises(fakeSecret('s1'))).toBe(true));
      expect(invite.expiresAt).toBe(1_000);
      hot('2s x').subscribe(() => expect([invites.recognises(fakeSecret('s1')), invites.recognises(fakeSecret('s2'))]).toEqual([true, true]));
      hot(`${1_000 + INVITE_MEMORY_MS - 1}ms x`).subscribe(() => expect(invites.recognises(fakeSecret('s1'))).toBe(true));
      hot(`${500 + INVITE_MEMORY_MS + 1}ms x`).subscribe(() => expect(invites.recognises(fakeSecret('s2'))).toBe(false));
      hot(`${1_000 + INVITE_MEMORY_MS + 1}ms x`).subscribe(() => {
        expect(invites.recognises(fakeSecret('s1'))).toBe(false);
        expect(invites.redeem(fakeSecret('s1'))).toEqual({ ok: false, reason: REFUSED_UNKNOWN_INVITE });
      });
      expect(invites.recognises(fakeSecret('forged'))).toBe(false);
    });
    expect(scheduler.actions).toHaveLength(0);
  });

  it('destroy cancels open invites and leaves no timer, not even the forgetting of ended ones', () => {
    scheduler.run(({ expectObservable, hot }) => {
      const invites = book();
      const open = invites.create(address, 'Laptop');
      const ended = invites.create(address, 'Laptop', 1_000);
      hot('5s x').subscribe(() => invites.destroy());
      expectObservable(open.state$.pipe(map(letter))).toBe('w 4999ms (c|)');
      expectObservable(ended.state$.pipe(map(letter))).toBe('w 999ms (e|)');
      hot('5001ms x').subscribe(() => {
        expect(scheduler.actions.filter((action) => !action.closed)).toHaveLength(0);
        expect(invites.recognises(fakeSecret('s2'))).toBe(false);
      });
    });
  });
});
