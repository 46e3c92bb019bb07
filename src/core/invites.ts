import { BehaviorSubject, Subscription, timer, type Observable, type SchedulerLike } from 'rxjs';
import { encodeInvite, inviteLink, type PeerAddress } from './invite';
import { REFUSED_CANCELLED_INVITE, REFUSED_EXPIRED_INVITE, REFUSED_UNKNOWN_INVITE, REFUSED_USED_INVITE } from './messages';
import type { Peer } from './model';

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


interface Entry {
  readonly state: BehaviorSubject<InviteState>;
  readonly expiry: Subscription;
  readonly expiresAt: number;
  used: boolean;
  finished: boolean;
}

/**
 * How long after its expiry an invite is still recognised, so that a late or
 * second use hears why it is refused rather than a bare "not paired".
 */
export const INVITE_MEMORY_MS = 10 * 60_000;

export type Redemption =
  | { readonly ok: true; complete(peer: Peer, verificationCode: string): void; fail(): void }
  | { readonly ok: false; readonly reason: string };

/**
 * The invites this device has open. Each is used at most once; expiry runs on
 * the scheduler so specs can check it to the millisecond.
 */
export class InviteBook {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly scheduler: SchedulerLike,
    private readonly newSecret: () => string,
  ) {}

  /** Invites still waiting for their device. */
  get openCount(): number {
    let count = 0;
    for (const entry of this.entries.values()) if (entry.state.getValue().status === 'waiting' && !entry.used) count += 1;
    return count;
  }

  /**
   * True while any invite is open or recently ended: devices presenting one
   * must be let through to hear the answer. Forgets invites long past expiry.
   */
  get expectingDevices(): boolean {
    const now = this.scheduler.now();
    for (const [secret, entry] of this.entries) {
      if (entry.expiresAt + INVITE_MEMORY_MS <= now) this.entries.delete(secret);
    }
    return this.entries.size > 0;
  }

  create(address: PeerAddress, inviterName: string, ttlMs = DEFAULT_INVITE_TTL_MS): OpenInvite {
    const secret = this.newSecret();
    const expiresAt = this.scheduler.now() + ttlMs;
    const state = new BehaviorSubject<InviteState>({ status: 'waiting' });
    const entry: Entry = {
      state,
      expiresAt,
      used: false,
      finished: false,
      expiry: timer(ttlMs, this.scheduler).subscribe(() => {
        if (!entry.used) this.finish(entry, { status: 'expired' });
      }),
    };
    this.entries.set(secret, entry);
    const text = encodeInvite({ address, secret, expiresAt, inviterName });
    return {
      text,
      link: inviteLink(text),
      expiresAt,
      state$: state.asObservable(),
      cancel: () => {
        if (state.getValue().status === 'waiting' && !entry.used) this.finish(entry, { status: 'cancelled' });
      },
    };
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
      complete: (peer, verificationCode) => this.finish(entry, { status: 'joined', peer, verificationCode }),
      // Storing the new peer failed: the invite stays used (its secret was shown), and says so.
      fail: () => this.finish(entry, { status: 'cancelled' }),
    };
  }

  /** Cancels every open invite. */
  destroy(): void {
    for (const entry of this.entries.values()) {
      if (entry.state.getValue().status === 'waiting') this.finish(entry, { status: 'cancelled' });
    }
  }

  private finish(entry: Entry, state: InviteState): void {
    entry.expiry.unsubscribe();
    if (entry.finished) return;
    entry.finished = true;
    entry.state.next(state);
    entry.state.complete();
  }
}
