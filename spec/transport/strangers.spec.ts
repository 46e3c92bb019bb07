/**
 * The stranger flood at a small count (npm run faults floods a headless peer
 * with 10,000 and measures its memory): strangers get only a few handshakes
 * per source address, the rest are turned away before theirs, the host is
 * told in summaries, and a known device still gets through.
 */
import { tap } from 'rxjs';
import type { RefusalSummary } from '../../src/transport/iroh-transport';
import { startFlood } from '../../bench/strangers';
import { loopbackTransport, next } from '../support/iroh';

jest.setTimeout(60_000);

it('300 strangers from one address: a handful reach a handshake, the rest are turned away unseen, a known device still connects', async () => {
  const friend = await loopbackTransport('Friend');
  let friendId = '';
  const gated: string[] = [];
  const target = await loopbackTransport('Target', {
    acceptNode: (nodeId) => (gated.push(nodeId), nodeId === friendId),
    refusalSummaryMs: 500,
  });
  friendId = friend.nodeId;
  const summaries: RefusalSummary[] = [];
  target.refusalSummary$.subscribe((s) => summaries.push(s));
  try {
    // The target dialled the friend once, so it knows the friend's address.
    friend.incoming$.subscribe((c) => c.accept?.());
    (await next(target.connect(await friend.generateTicket()))).close('done');

    const { finished } = startFlood({ ticket: await target.generateTicket(), count: 300, sources: 1, concurrency: 10 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Mid-flood, while strangers are turned away: the friend is let through and accepted.
    const accepted = next(target.incoming$.pipe(tap((c) => c.accept?.())));
    await expect(next(friend.connect(await target.generateTicket()))).resolves.toMatchObject({ remoteName: 'Target' });
    await accepted;
    const flood = await finished;
    await new Promise((resolve) => setTimeout(resolve, 800));

    const strangersGated = gated.filter((id) => id !== friendId).length;
    const unseen = summaries.reduce((n, s) => n + s.unseen, 0);
    expect(flood.done).toBe(300);
    // 8 at once, then one per 6 s, per source: the strangers' address, and their IPv6 loopback
    // address (a refused dial is retried on the target's other address, [::1]).
    expect(strangersGated).toBeLessThanOrEqual(2 * (8 + Math.ceil(flood.ms / 6_000)));
    expect(unseen).toBeGreaterThanOrEqual(300 - strangersGated);
    // A few summaries, not a line per stranger.
    expect(summaries.length).toBeLessThanOrEqual(Math.ceil((flood.ms + 1_100) / 500) + 1);
    expect(summaries.every((s) => s.windowMs === 500)).toBe(true);
  } finally {
    await target.close();
    await friend.close();
  }
});
