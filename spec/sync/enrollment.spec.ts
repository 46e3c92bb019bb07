import { SYNC_PROTOCOL, decodeMessage } from '../../src/sync/wire';
import { memoryLink } from '../support/memory-connection';
import { Device, converged, waitFor } from '../support/sync-harness';

/** Two devices that already hold the same notes (a copied vault) pair: nothing duplicated, no note content sent. */
describe('deterministic enrollment', () => {
  const NOTES = 1000;

  it(`two devices with the same ${NOTES} notes end with no duplicated text and no note content on the wire`, async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < NOTES; i += 1) files[`folder ${i % 25}/note ${i}.md`] = `# Note ${i}\n\nUNIQUE-${i}-LINE\n${'Some text the two copies share. '.repeat(1 + (i % 7))}\n`;
    const a = await Device.start('a', files);
    const b = await Device.start('b', files);
    const content: string[] = [];
    let entries = 0;
    const link = memoryLink(a.id, b.id, {
      tap: (_from, protocol, frame) => {
        if (protocol !== SYNC_PROTOCOL) {
          content.push(`a ${protocol} stream`);
          return;
        }
        const message = decodeMessage(frame);
        if (message.type === 'changes') entries += message.entries.length;
        if ((message.type === 'changes' || message.type === 'docs') && message.docs.some((d) => d.update.length > 2)) content.push(message.type);
        if (message.type === 'doc-part') content.push(message.type);
      },
    });
    const finished = { a: 0, b: 0 };
    const subs = [
      a.engine.syncWithPeer(link.a).subscribe((e) => e.type === 'finished' && (finished.a += 1)),
      b.engine.syncWithPeer(link.b).subscribe((e) => e.type === 'finished' && (finished.b += 1)),
    ];
    await waitFor(() => finished.a > 0 && finished.b > 0, 'the catch-up to finish', 60_000);
    const tree = await converged([a, b], 'the copies to agree', 60_000);

    expect(tree).toEqual(Object.fromEntries(Object.entries(files).sort(([x], [y]) => (x < y ? -1 : 1))));
    for (let i = 0; i < NOTES; i += 1) expect(tree[`folder ${i % 25}/note ${i}.md`]!.split(`UNIQUE-${i}-LINE`).length - 1).toBe(1);
    expect(a.vault.engineWrites).toEqual([]);
    expect(b.vault.engineWrites).toEqual([]);
    // Only the index crossed: each side's entries once, no document update, no attachment stream.
    expect(content).toEqual([]);
    expect(entries).toBe(2 * NOTES);
    expect(link.totalBytes / NOTES).toBeLessThan(200);
    for (const sub of subs) sub.unsubscribe();
    link.cut();
    await a.engine.close();
    await b.engine.close();
  }, 120_000);
});
