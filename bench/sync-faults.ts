/**
 * The sync's part of `npm run faults`: each fault at volume, its numbers and
 * a pass or fail line per check. spec/sync-faults-*.spec.ts run them small.
 */
import { changedDuringTransfer, fullDisk, futureClock } from './sync-disk';
import { WIRE_ATTACKS, hostileOverWire } from './sync-hostile';
import { ALLOWED_FD_GROWTH, ALLOWED_RSS_GROWTH_MB, growth, killsDuringInitialSync, killsDuringLiveEditing } from './sync-kills';

export async function syncFaults(full: boolean, log: (line: string) => void): Promise<boolean> {
  let ok = true;
  const check = (name: string, passed: boolean, numbers: unknown): void => {
    ok &&= passed;
    log(`${passed ? 'PASS' : 'FAIL'} ${name}: ${JSON.stringify(numbers)}`);
  };

  const initial = await killsDuringInitialSync(full ? 20 : 2, full ? 5 : 3, 1, full ? { notes: 600, attachments: [8 * 1024 * 1024, 200_000] } : undefined);
  check('sync: kill -9 during the initial sync', initial.killsMidSync > 0 && initial.wrong.length === 0 && initial.leftovers.length === 0, {
    rounds: initial.rounds,
    kills: initial.kills,
    killsMidSync: initial.killsMidSync,
    filesPerRound: initial.filesPerRound,
    wrong: initial.wrong.slice(0, 5),
    leftovers: initial.leftovers.slice(0, 5),
    msPerRound: initial.msPerRound,
  });

  const live = await killsDuringLiveEditing(full ? 100 : 6, full ? 25 : 3, 2);
  const grew = growth(live);
  check(
    'sync: kill -9 during live editing on both sides',
    live.treesIdentical && live.lost.length === 0 && live.duplicated.length === 0 && live.foreign.length === 0 && live.leftovers.length === 0,
    { kills: live.kills, linesWritten: live.linesWritten, lost: live.lost.slice(0, 5), duplicated: live.duplicated.slice(0, 5), foreign: live.foreign.slice(0, 5), treesIdentical: live.treesIdentical, leftovers: live.leftovers.slice(0, 5), msPerKill: live.msPerKill, notLive: live.notLive.slice(0, 5) },
  );
  check('sync: no handle or memory growth across the kills', grew.survivorFds <= ALLOWED_FD_GROWTH && grew.survivorRssMb <= ALLOWED_RSS_GROWTH_MB && grew.freshFds <= ALLOWED_FD_GROWTH, {
    ...grew,
    survivors: live.survivors.map((s) => `${s.name} through ${s.kills} kills: ${s.first.fds}->${s.last.fds} fds, ${s.first.rssMb}->${s.mid.rssMb}->${s.last.rssMb} MB`),
    freshFirst: live.freshFirst,
    freshLast: live.freshLast,
  });

  const hostile = await hostileOverWire(full ? 10 : 1);
  check(
    'sync: hostile paired device over iroh',
    hostile.refusedWithReason === hostile.attacks && hostile.wrote.length === 0 && hostile.friendSynced && hostile.friendDrops === 0 && hostile.targetStillRunning,
    { attacks: hostile.attacks, kinds: WIRE_ATTACKS.length, refusedWithReason: hostile.refusedWithReason, unexpected: hostile.unexpected.slice(0, 5), wrote: hostile.wrote.slice(0, 5), friendSynced: hostile.friendSynced, friendDrops: hostile.friendDrops, pendingAfter: hostile.pendingAfter },
  );
  log(`  reasons:\n    ${hostile.reasons.join('\n    ')}`);

  const disk = await fullDisk();
  if (disk.skipped) log(`SKIP sync: full disk: ${disk.skipped}`);
  else {
    check('sync: full disk', disk.runSaid.length > 0 && /Last problem: .*disk is full/u.test(disk.statusSaid) && disk.halfWritten.length === 0 && disk.partial.length === 0 && disk.resumed && disk.leftovers.length === 0, {
      problemLinesWhileFull: disk.problemLines,
      halfWritten: disk.halfWritten,
      partial: disk.partial,
      resumed: disk.resumed,
      secondsToResume: disk.secondsToResume,
      leftovers: disk.leftovers,
    });
    log(`  run said: ${disk.runSaid[0] ?? '(nothing)'}\n  status said:\n    ${disk.statusSaid.split('\n').join('\n    ')}`);
  }

  const changed = await changedDuringTransfer();
  check('sync: a file changed by another program during a transfer', changed.receiving.bothKept && changed.receiving.treesIdentical && changed.receiving.partial.length === 0 && changed.sending.receiverHasNew && changed.sending.treesIdentical && changed.sending.partial.length === 0, changed);

  const clock = await futureClock(10);
  check('sync: a clock ten years ahead on one device', clock.hookTook && clock.laterEditsKept && clock.concurrentKept && clock.treesIdentical, clock);
  return ok;
}
