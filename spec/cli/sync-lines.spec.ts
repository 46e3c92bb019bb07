/**
 * What the headless peer prints about syncing, from the manager's and the
 * engine's events: a line per finished sync (never per file; an empty later
 * burst is not news), one per merge and conflict copy, files not synced
 * gathered into one line a second after the first (marbles, virtual time),
 * and every path from another device made safe for a terminal. Plus the
 * status and conflicts texts, and finding the conflict copy a person typed.
 */
import { BehaviorSubject, Subject } from 'rxjs';
import { findCopy, formatStatus, type ConflictRow, type StatusOutput } from '../../src/cli/commands-sync';
import { watchStatuses } from '../../src/cli/run';
import { burstSummary, shownPath, watchSync, type SyncLine } from '../../src/cli/sync-lines';
import { count, sizeText } from '../../src/cli/terminal';
import type { Peer, PeerState } from '../../src/core/model';
import type { PeerManager, PeerManagerEvent } from '../../src/core/peer-manager';
import type { ActivityEntry } from '../../src/sync';
import { newTestScheduler } from '../support/marbles';

const DESKTOP = 'de'.repeat(32);
const HOSTILE = 'evil\u001b]0;pwned\u0007\u202egnp.exe.md';

function peer(name: string): Peer {
  return { nodeId: DESKTOP, name, ticket: 't', addedAt: '2026-11-25T10:00:00.000Z', lastSyncAt: null, autoConnect: true };
}

function fakes(name = 'Desktop') {
  const events$ = new Subject<PeerManagerEvent>();
  const states = (status: PeerState['status']): PeerState[] => [{ peer: peer(name), status, lastError: null, syncProgress: null, connection: null }];
  const peerStates$ = new BehaviorSubject<PeerState[]>(states('connected'));
  const activity$ = new Subject<ActivityEntry>();
  const manager = { events$, peerStates$, getPeer: (id: string) => (id === DESKTOP ? peer(name) : undefined) };
  const sync = (event: Extract<PeerManagerEvent, { type: 'sync' }>['event']) => events$.next({ type: 'sync', nodeId: DESKTOP, event });
  return { manager, activity$, sync, setStatus: (status: PeerState['status']) => peerStates$.next(states(status)) };
}

const progress = (files: number, bytes: number) => ({ type: 'progress' as const, files: { done: files, total: files }, bytes: { done: bytes, total: bytes } });
const entry = (kind: ActivityEntry['kind'], path: string | null, message: string, at = 0): ActivityEntry => ({ at, kind, path, peer: null, message });
const texts = (lines: SyncLine[]) => lines.map((l) => l.text.replace(/^\d\d:\d\d:\d\d[+-]\d\d:\d\d /, ''));

describe('run: lines about syncing', () => {
  it('one line per finished sync with what it moved; a later burst that moved nothing is not printed, the next connection is', () => {
    const { manager, activity$, sync, setStatus } = fakes();
    const lines: SyncLine[] = [];
    const subscription = watchSync(manager, activity$, (line) => lines.push(line));
    sync({ type: 'started' });
    sync(progress(3, 1_234_567));
    sync({ type: 'finished' });
    sync({ type: 'started' });
    sync({ type: 'finished' });
    sync({ type: 'started' });
    sync(progress(1, 40));
    sync({ type: 'finished' });
    setStatus('disconnected');
    setStatus('connected');
    sync({ type: 'started' });
    sync({ type: 'finished' });
    expect(texts(lines)).toEqual([
      `Desktop (dededede) in sync: 3 files, 1.2 MB`,
      `Desktop (dededede) in sync: 1 file, 40 B`,
      `Desktop (dededede) in sync: nothing to exchange`,
    ]);
    subscription.unsubscribe();
  });

  it('merges and conflict copies name the device and the file, every name and path made safe for a terminal', () => {
    const { manager, activity$, sync } = fakes(`Desk\u001b[2Jtop`);
    const lines: SyncLine[] = [];
    const subscription = watchSync(manager, activity$, (line) => lines.push(line));
    sync({ type: 'merged', path: HOSTILE });
    sync({ type: 'conflict', path: 'img/a.png', copy: `img/a.sync-conflict-20261125-101010-ABCDEFG.png` });
    activity$.next(entry('merged', 'Daily/today.md', 'Merged concurrent edits in Daily/today.md'));
    activity$.next({ ...entry('merged', 'x.md', 'from a peer: printed from the manager instead'), peer: DESKTOP });
    expect(texts(lines)).toEqual([
      'merged concurrent edits from Desk [2Jtop (dededede) in "evil ]0;pwned gnp.exe.md"',
      '"img/a.png" changed on both sides: the other version is kept as "img/a.sync-conflict-20261125-101010-ABCDEFG.png" (vault-peers conflicts)',
      'merged the edit of "Daily/today.md" on this disk with changes from other devices',
    ]);
    for (const line of lines) expect(line.text).not.toMatch(/[\u0000-\u001f\u202e]/u);
    subscription.unsubscribe();
  });

  it('files not synced are gathered into one line a second after the first (marbles)', () => {
    newTestScheduler().run(({ cold, expectObservable }) => {
      const { manager } = fakes();
      const notSynced = (path: string) => entry('not-synced', path, `Not synced: "${path}": it uses a name Windows reserves.`);
      const activity$ = cold<ActivityEntry>('a 99ms b 99ms c 2s d', { a: notSynced('CON.md'), b: notSynced('aux.txt'), c: notSynced('NUL'), d: notSynced('PRN.md') });
      const lines$ = new Subject<string>();
      const live = watchSync(manager, activity$, (line) => lines$.next(line.text.replace(/^\d\d:\d\d:\d\d[+-]\d\d:\d\d /, '')));
      // a at 0, b at 100 ms, c at 200 ms: one line at 1 s. d at 2,201 ms: its own line a second later.
      expectObservable(lines$, '^ 5s !').toBe('1s x 2200ms y', {
        x: 'not synced: "CON.md", "aux.txt", "NUL" (vault-peers status says why)',
        y: 'Not synced: "PRN.md": it uses a name Windows reserves.',
      });
      return () => live.unsubscribe();
    });
  });
});

describe('run: status lines', () => {
  it("a peer's first disconnected (start-up, or paired while running) is not printed; later changes are, with the reason", () => {
    const states = new BehaviorSubject<PeerState[]>([]);
    const manager = { onPeerStateChange: (callback: (s: PeerState[]) => void) => {
      const subscription = states.subscribe(callback);
      return () => subscription.unsubscribe();
    } } as unknown as PeerManager;
    const at = (status: PeerState['status'], lastError: string | null = null): PeerState[] => [{ peer: peer('Desktop'), status, lastError, syncProgress: null, connection: null }];
    const lines: string[] = [];
    const stop = watchStatuses(manager, (line) => lines.push(line.replace(/^\d\d:\d\d:\d\d[+-]\d\d:\d\d /, '')));
    for (const next of [at('disconnected'), at('connecting'), at('connected'), at('syncing'), at('connected'), at('disconnected', 'Gone\u001b[2J.')]) states.next(next);
    states.next([]);
    stop();
    states.next(at('connecting'));
    expect(lines).toEqual(['Desktop (dededede) connecting', 'Desktop (dededede) connected', 'Desktop (dededede) disconnected (Gone [2J.)', 'dededede removed']);
  });
});

describe('run: problems', () => {
  it('are gathered for a second into one line, made safe; the same problem on a retry is not repeated within a minute (marbles)', () => {
    newTestScheduler().run(({ cold, expectObservable }) => {
      const { manager } = fakes();
      const full = (path: string) => entry('error', null, `Could not write "${path}" in /v: the disk is full.`);
      // Round 1: three files fail within 200 ms. Round 2 (a retry 5 s later): the same problem, other order. At 70 s: again. Then another problem.
      const activity$ = cold<ActivityEntry>('a 99ms b 99ms c 5s b 99ms a 65s c 10s d', { a: full(HOSTILE), b: full('b.md'), c: full('c.md'), d: entry('error', null, 'Could not read "x.md": permission denied.') });
      const lines$ = new Subject<SyncLine>();
      const live = watchSync(manager, activity$, (line) => lines$.next(line));
      expectObservable(lines$, '^ 90s !').toBe('1s x 70301ms y 10s z', {
        x: { text: 'sync problem: Could not write "evil ]0;pwned gnp.exe.md" in /v: the disk is full. (and 2 more; vault-peers status shows the last)', problem: true },
        y: { text: 'sync problem: Could not write "c.md" in /v: the disk is full.', problem: true },
        z: { text: 'sync problem: Could not read "x.md": permission denied.', problem: true },
      });
      return () => live.unsubscribe();
    });
  });
});

describe('status, conflicts and resolve texts', () => {
  const status: StatusOutput = {
    self: { nodeId: 'ab'.repeat(32), name: 'Laptop', running: true },
    vault: '/home/me/Notes',
    syncing: true,
    stateDir: '/home/me/.vault-peers/sync/Notes-0123456789ab',
    here: { files: 2, bytes: 3_400_000 },
    problem: `Could not write "big.bin" in /home/me/Notes: the disk is full (or your quota is used up). Free some space; Vault Peers tries again and nothing was lost.\u001b[2J`,
    notSynced: [{ path: HOSTILE, reason: `Not synced: "${HOSTILE}": it contains a control character.` }],
    conflicts: 1,
    peers: [
      { nodeId: DESKTOP, name: 'Desktop', status: 'syncing', sync: 'syncing', progress: { files: { done: 3, total: 10 }, bytes: { done: 1_000_000, total: 4_500_000 } }, waiting: 0, lastSyncAt: '2026-11-25T10:00:00.000Z', lastError: null },
      { nodeId: 'cd'.repeat(32), name: 'Phone\u202e', status: 'disconnected', sync: 'stopped', progress: null, waiting: 4, lastSyncAt: null, lastError: 'Connection lost.' },
    ],
  };

  it('status: the vault and where its state is, each device with its sync state, what waits, files not synced and conflicts', () => {
    const text = formatStatus(status);
    const lines = text.split('\n');
    expect(lines[0]).toBe('Laptop (abababab) syncs /home/me/Notes (sync state in /home/me/.vault-peers/sync/Notes-0123456789ab).');
    expect(lines[1]).toMatch(/^ {2}Desktop \(dededede\) +syncing \(3 of 10 files, 1\.0 MB of 4\.5 MB\) synced \d{4}-\d\d-\d\d \d\d:\d\d[+-]\d\d:\d\d, nothing waiting$/);
    expect(lines[2]).toMatch(/^ {2}Phone \(cdcdcdcd\) +disconnected +never synced, 4 changes waiting for it {2}\(Connection lost\.\)$/);
    expect(lines.slice(3)).toEqual([
      'Still to write here: 2 files (3.4 MB).',
      '  Last problem: Could not write "big.bin" in /home/me/Notes: the disk is full (or your quota is used up). Free some space; Vault Peers tries again and nothing was lost. [2J',
      'Not synced (1), these stay on this device:',
      '  Not synced: "evil ]0;pwned gnp.exe.md": it contains a control character.',
      '1 conflict copy: `vault-peers conflicts` lists them.',
    ]);
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u202e]/u);
  });

  it('status when nothing syncs says why and what to do', () => {
    expect(formatStatus({ ...status, syncing: false, stateDir: null, here: null, problem: null, notSynced: [], conflicts: null, self: { ...status.self, running: false }, peers: [] }).split('\n')).toEqual([
      'Laptop (abababab) is not running: /home/me/Notes is not being synced. `vault-peers run` syncs it.',
      'No paired devices yet. Run `vault-peers invite` here and `vault-peers join <invite>` on the other device.',
    ]);
    expect(formatStatus({ ...status, vault: null, syncing: false, stateDir: null, here: null, problem: null, notSynced: [], conflicts: null, peers: [] }).split('\n').slice(0, 2)).toEqual([
      'Laptop (abababab) is running without a vault, so nothing is synced.',
      '`vault-peers run --vault DIR` keeps DIR in sync with every paired device (and remembers it).',
    ]);
  });

  it('finds the conflict copy a person typed: its vault path, an absolute path, or the end of its path; refuses an ambiguous one', () => {
    const copies: ConflictRow[] = [
      { copy: 'img/a.sync-conflict-20261125-101010-ABCDEFG.png', original: 'img/a.png', originalExists: true },
      { copy: 'notes/a.sync-conflict-20261125-101010-ABCDEFG.png', original: 'notes/a.png', originalExists: false },
      { copy: 'b.sync-conflict-20261125-101010-ABCDEFG.md', original: 'b.md', originalExists: true },
    ];
    expect(findCopy(copies, 'img/a.sync-conflict-20261125-101010-ABCDEFG.png', '/v')).toBe(copies[0]);
    expect(findCopy(copies, '/v/notes/a.sync-conflict-20261125-101010-ABCDEFG.png', '/v')).toBe(copies[1]);
    expect(findCopy(copies, '../v/b.sync-conflict-20261125-101010-ABCDEFG.md', '/v')).toBe(copies[2]);
    expect(findCopy(copies, 'b.sync-conflict-20261125-101010-ABCDEFG.md', '/v')).toBe(copies[2]);
    expect(() => findCopy(copies, 'a.sync-conflict-20261125-101010-ABCDEFG.png', '/v')).toThrow('"a.sync-conflict-20261125-101010-ABCDEFG.png" matches 2 conflict copies; give more of its path.');
    expect(() => findCopy(copies, `x\u001b[2J.png`, '/v')).toThrow('No conflict copy matches "x [2J.png". `vault-peers conflicts` lists them.');
  });

  it('sizes, counts and summaries read naturally', () => {
    expect([0, 999, 1_000, 12_345, 999_999, 4_500_000, 1_234_567_890].map(sizeText)).toEqual(['0 B', '999 B', '1.0 KB', '12.3 KB', '1.0 MB', '4.5 MB', '1.2 GB']);
    expect([count(1, 'file'), count(1_234, 'file'), count(2, 'conflict copy', 'conflict copies')]).toEqual(['1 file', '1,234 files', '2 conflict copies']);
    expect(burstSummary(null)).toBe('nothing to exchange');
    expect(burstSummary({ files: { done: 2, total: 2 }, bytes: { done: 0, total: 0 } })).toBe('2 files');
    expect(shownPath('a\u0000b'.repeat(100))).toHaveLength(202);
  });
});
