/**
 * The sync's kill -9 faults at a small count (npm run faults runs 200 kills):
 * real `vault-peers run --vault` processes over iroh on loopback, killed
 * during their initial sync and while a writer edits notes on each side.
 */
import { ALLOWED_FD_GROWTH, ALLOWED_RSS_GROWTH_MB, growth, killsDuringInitialSync, killsDuringLiveEditing } from '../bench/sync-kills';

jest.setTimeout(240_000);

describe('kill -9 of either syncing peer (small)', () => {
  it('during the initial sync: every file arrives whole on both sides, nothing temporary or staged is left', async () => {
    const report = await killsDuringInitialSync(1, 3, 7, { notes: 200, attachments: [8 * 1024 * 1024, 100_000] });
    expect(report.killsMidSync).toBeGreaterThanOrEqual(1);
    expect(report.wrong).toEqual([]);
    expect(report.leftovers).toEqual([]);
  });

  it('during live editing on both sides: the trees end identical, every written line is there exactly once, nothing grows', async () => {
    const report = await killsDuringLiveEditing(4, 2, 11);
    expect(report.kills).toBe(4);
    expect(report.linesWritten).toBeGreaterThan(20);
    expect(report.treesIdentical).toBe(true);
    expect(report.lost).toEqual([]);
    expect(report.duplicated).toEqual([]);
    expect(report.foreign).toEqual([]);
    expect(report.leftovers).toEqual([]);
    expect(report.notLive).toEqual([]);
    const grew = growth(report);
    expect(grew.survivorFds).toBeLessThanOrEqual(ALLOWED_FD_GROWTH);
    expect(grew.survivorRssMb).toBeLessThanOrEqual(ALLOWED_RSS_GROWTH_MB);
  });
});
