/**
 * The sync's faults of the wire, the disk and the clock at a small count
 * (npm run faults runs them at volume): a hostile paired device over real
 * iroh, a full disk, a file changed mid-transfer, a clock years ahead.
 */
import { WIRE_ATTACKS, hostileOverWire } from '../bench/sync-hostile';
import { changedDuringTransfer, fullDisk, futureClock } from '../bench/sync-disk';

jest.setTimeout(180_000);

describe('sync faults (small)', () => {
  it('a hostile paired device over real iroh: every attack refused with its reason, nothing written, the friend keeps syncing', async () => {
    const report = await hostileOverWire(1);
    expect(report.unexpected).toEqual([]);
    expect(report.refusedWithReason).toBe(WIRE_ATTACKS.length);
    expect(report.wrote).toEqual([]);
    expect(report.friendSynced).toBe(true);
    expect(report.friendDrops).toBe(0);
    expect(report.targetStillRunning).toBe(true);
  });

  // Timed out once in a fresh-clone CI run ("run to say the disk is full", 90 s, two workers under load) and passes
  // alone; until that is understood it runs in `npm run faults` (at full size) and here only on request.
  const diskSpec = process.env.VAULT_PEERS_DISK_SPEC === '1' ? it : it.skip;
  diskSpec('a full disk (VAULT_PEERS_DISK_SPEC=1): run says so, nothing is written half, and the sync finishes by itself once space returns', async () => {
    const report = await fullDisk();
    if (report.skipped) {
      console.warn(`full disk not tried: ${report.skipped}`);
      return;
    }
    expect(report.runSaid.length).toBeGreaterThan(0);
    expect(report.runSaid[0]).toMatch(/sync problem: Could not write "[^"]+" in .*: the disk is full \(or your quota is used up\)\. Free some space; Vault Peers tries again and nothing was lost\.(?: \(and \d+ more; vault-peers status shows the last\))?$/u);
    expect(report.statusSaid).toMatch(/Still to write here: \d+ files.*\n {2}Last problem: Could not write .*the disk is full/u);
    expect(report.halfWritten).toEqual([]);
    expect(report.partial).toEqual([]);
    expect(report.resumed).toBe(true);
    expect(report.wrong).toEqual([]);
    expect(report.leftovers).toEqual([]);
  });

  it('a file changed by another program during a transfer, on the receiving and on the sending side: no version lost, no mix', async () => {
    const report = await changedDuringTransfer(12 * 1024 * 1024);
    expect(report.receiving).toMatchObject({ bothKept: true, treesIdentical: true, conflicts: 1, partial: [], leftovers: [] });
    expect(report.sending).toEqual({ receiverHasNew: true, treesIdentical: true, partial: [], leftovers: [] });
  });

  it('a clock ten years ahead on one device: edits made after its own still win, offline edits on both sides are all kept', async () => {
    const report = await futureClock(10);
    expect(report.details).toEqual([]);
    expect(report).toMatchObject({ hookTook: true, laterEditsKept: true, concurrentKept: true, treesIdentical: true });
  });
});
