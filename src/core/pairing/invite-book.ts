import { BehaviorSubject, Subscription, timer, type Observable, type SchedulerLike } from 'rxjs';
import { REFUSED_CANCELLED_INVITE, REFUSED_EXPIRED_INVITE, REFUSED_UNKNOWN_INVITE, REFUSED_USED_INVITE } from '../messages';
import type { Peer } from '../model';
import type { PeerAddress } from '../ports';
import { encodeInvite, inviteLink } from './invite-codec';

export type InviteState =
  | { readonly status: 'waiting' }
  | { readonly status: 'joined'; readonly peer: Peer; readonly verificationCode: string }
  | { readonly status: 'expired' }
  | { readonly status: 'cancelled' };

/** An invite this device has shown and is waiting on. */
export interface OpenInvite {
  /** The invite as text (for copying and for the QR code). */
  readonly text: string;
  /** The same as an obsidian:// link. */
  readonly link: string;
  readonly expiresAt: number;
  /** waiting, then joined | expired | cancelled; replays the latest state and completes at the end. */
  readonly state$: Observable<InviteState>;
  cancel(): void;
}

export const DEFAULT_INVITE_TTL_MS = 10 * 60_000;

/**
 * How long after it ended (expired, cancelled, used) an invite's secret is
 * still recognised, so that a late or second use hears why it is refused
 * rather than a bare "not paired".
 */
export const INVITE_MEMORY_MS = 10 * 60_000;

interface Entry {
  readonly state: BehaviorSubject<InviteState>;
  /** The expiry timer while open, then the timer that forgets the ended invite. */
  timer: Subscription;
  /** Redeemed: its device is being stored. It can no longer expire or be cancelled. */
  used: boolean;
}

export type Redemption =
  | { readonly ok: true; complete(peer: Peer, verificationCode: string): void; fail(): void }
  | { readonly ok: false; readonly reason: string };

/**
 * The invites this device has shown. Each is used at most once; expiry and
 * forgetting run on the scheduler so specs can check them to the millisecond.
 */
export class InviteBook {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly scheduler: SchedulerLike,
    private readonly newSecret: () => string,
  ) {}

  create(address: PeerAddress, inviterName: string, ttlMs = DEFAULT_INVITE_TTL_MS): OpenInvite {
    const secret = this.newSecret();
    const expiresAt = this.scheduler.now() + ttlMs;
    const state = new BehaviorSubject<InviteState>({ status: 'waiting' });
    const entry: Entry = { state, timer: Subscription.EMPTY, used: false };
    this.entries.set(secret, entry);
    entry.timer = timer(Math.max(0, ttlMs), this.scheduler).subscribe(() => {
      if (!entry.used) this.end(secret, { status: 'expired' });
    });
    const text = encodeInvite({ address, secret, expiresAt, inviterName });
    return {
      text,
      link: inviteLink(text),
      expiresAt,
      state$: state.asObservable(),
      cancel: () => {
        if (!entry.used) this.end(secret, { status: 'cancelled' });
      },
    };
  }

  /** Whether a secret belongs to an invite that is open or ended less than INVITE_MEMORY_MS ago. No side effects. */
  recognises(secret: string): boolean {
    return this.entries.has(secret);
  }

  /** Takes a secret a connecting device presented: the first valid use wins, every other is refused. */
  redeem(secret: string): Redemption {
    const entry = this.entries.get(secret);
    if (!entry) return { ok: false, reason: REFUSED_UNKNOWN_INVITE };
    const status = entry.state.getValue().status;
    if (entry.used || status === 'joined') return { ok: false, reason: REFUSED_USED_INVITE };
    if (status === 'expired') return { ok: false, reason: REFUSED_EXPIRED_INVITE };
    if (status === 'cancelled') return { ok: false, reason: REFUSED_CANCELLED_INVITE };
    entry.used = true;
    return {
      ok: true,
      complete: (peer, verificationCode) => this.end(secret, { status: 'joined', peer, verificationCode }),
      // Storing the new peer failed: the invite stays used (its secret was shown), and says so.
      fail: () => this.end(secret, { status: 'cancelled' }),
    };
  }

  /** Cancels every open invite and forgets them all: no timer is left. */
  destroy(): void {
    for (const secret of [...this.entries.keys()]) this.end(secret, { status: 'cancelled' });
    for (const entry of this.entries.values()) entry.timer.unsubscribe();
    this.entries.clear();
  }

  private end(secret: string, state: InviteState): void {
    const entry = this.entries.get(secret);
    if (!entry || entry.state.getValue().status !== 'waiting') return;
    entry.timer.unsubscribe();
    entry.timer = timer(INVITE_MEMORY_MS, this.scheduler).subscribe(() => this.entries.delete(secret));
    entry.state.next(state);
    entry.state.complete();
  }
}
