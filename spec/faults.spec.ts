/**
 * The fault suite at a small count (npm run faults runs it in full): crashes
 * and restarts, damaged peers documents, a hostile peer, a reconnect storm.
 */
import { corruptVariant, corruptedDocuments, hostilePeer, killRestartCycles, reconnectStorm, ATTACKS } from '../bench/faults';

jest.setTimeout(120_000);

describe('the fault suite (small)', () => {
  it('kill -9 and restart, 5 times: connected again each time, nothing grows, no unhandled rejection, documents intact', async () => {
    const report = await killRestartCycles(5);
    expect(report.unhandledRejections).toBe(0);
    expect(report.handlesAtEnd.length).toBeLessThanOrEqual(report.handlesAfterFirst.length); // the lists say what grew, if anything
    expect(report.listenersAtEnd).toBeLessThanOrEqual(report.listenersAfterFirst);
    expect(report.documentIntact).toBe(true);
  });

  it('120 damaged peers documents of every kind: valid peers load, the original is backed up, no save loses data', async () => {
    const kinds = new Set(Array.from({ length: 120 }, (_, i) => corruptVariant(i + 1).kind));
    expect(kinds.size).toBeGreaterThanOrEqual(8);
    const report = await corruptedDocuments(120);
    expect(report.failures).toEqual([]);
  });

  it('a hostile peer: every bad message closes its connection with a reason; the paired device stays connected', async () => {
    const report = await hostilePeer(2);
    expect(report.attacks).toBe(ATTACKS.length * 2);
    expect(report.closedWithReason).toBe(report.attacks);
    expect(report.legitimateStayedConnected).toBe(true);
    expect(report.openConnectionsAfter).toBe(1);
    expect(report.heapGrowthMb).toBeLessThan(20);
  });

  it('a reconnect storm of 40 offline peers stays within 4 dials at once', async () => {
    const report = await reconnectStorm(40, 3);
    expect(report.maxConcurrentDials).toBe(4);
    expect(report.dialsStarted).toBeGreaterThanOrEqual(4);
  });
});
