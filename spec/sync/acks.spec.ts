/**
 * Acknowledgements per live change (src/sync/acks.ts): the receiver answers
 * an applied change with one frame, `synced` carrying the `caught-up` of its
 * echo, and the sender answers that with nothing. The next connection still
 * starts where this one stopped: nothing is sent again.
 */
import { SYNC_PROTOCOL, decodeMessage } from '../../src/sync/wire';
import { bothFinished, converged, deviceFleet, waitFor } from '../support/sync-harness';

const { start, link } = deviceFleet();

/** The sync frames each side sent, as short strings. */
function frames(): { log: string[]; tap: (from: string, protocol: string, frame: Uint8Array) => void } {
  const log: string[] = [];
  return {
    log,
    tap: (from, protocol, frame) => {
      if (protocol !== SYNC_PROTOCOL) return;
      const m = decodeMessage(frame);
      if (m.type === 'changes') log.push(`${from} changes ${m.entries.length}/${m.docs.length}`);
      else if (m.type === 'synced') log.push(`${from} synced${m.caughtUp > 0 ? ' + caught-up' : ''}`);
      else log.push(`${from} ${m.type}`);
    },
  };
}

describe('acknowledgements of live changes', () => {
  it('one frame back per edit (synced with the caught-up of its echo), none in reply to it; the next connection sends no entries', async () => {
    const a = await start('a', { 'n.md': 'one\n', 'm.md': 'two\n' });
    const b = await start('b');
    const first = frames();
    const c = link(a, b, { tap: first.tap });
    await waitFor(() => bothFinished(c), 'the catch-up');
    await converged([a, b]);
    for (const [i, path] of ['n.md', 'm.md', 'n.md'].entries()) {
      const from = first.log.length;
      a.vault.put(path, `${a.vault.text(path)!}edit ${i}\n`);
      await waitFor(() => b.vault.text(path) === a.vault.text(path), 'the edit');
      await waitFor(() => bothFinished(c) && first.log.length >= from + 2, 'the acknowledgement');
      await converged([a, b]);
      // Anything more would come within a few acknowledgement windows.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(first.log.slice(from)).toEqual(['a changes 1/1', 'b synced + caught-up']);
    }
    // An edit on b goes the other way the same way.
    const from = first.log.length;
    b.vault.put('m.md', `${b.vault.text('m.md')!}from b\n`);
    await waitFor(() => a.vault.text('m.md') === b.vault.text('m.md'), "b's edit");
    await waitFor(() => bothFinished(c) && first.log.length >= from + 2, 'the acknowledgement');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(first.log.slice(from)).toEqual(['b changes 1/1', 'a synced + caught-up']);
    c.disconnect();

    // Both sides know how far the other has them, echoes included: the next connection exchanges no entries.
    const second = frames();
    const again = link(a, b, { tap: second.tap });
    await waitFor(() => bothFinished(again), 'the second connection');
    expect(second.log.filter((f) => f.includes('changes'))).toEqual([]);
  });
});
