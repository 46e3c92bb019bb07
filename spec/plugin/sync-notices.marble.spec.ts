import { asyncScheduler, map, type Observable } from 'rxjs';
import type { ActivityEntry } from '../../src/sync';
import { conflictNotice, showConflictNotices } from '../../src/plugin/sync-notices';
import { newTestScheduler } from '../support/marbles';

const entry = (kind: ActivityEntry['kind'], path: string): ActivityEntry => ({ at: 0, kind, path, peer: 'b', message: `${kind} ${path}` });

describe('notices for sync', () => {
  it('one notice for a batch of conflicts (2 s apart at most), none for merges and routine syncs', () => {
    newTestScheduler().run(({ hot, expectObservable, flush }) => {
      const activity: Observable<ActivityEntry> = hot('a 100ms b 500ms m 1s c 3s d 10s m', {
        a: entry('conflict', 'one.png'),
        b: entry('conflict', 'two.png'),
        c: entry('conflict', 'three.png'),
        d: entry('conflict', 'four.png'),
        m: entry('merged', 'Daily.md'),
      });
      const shown: { at: number; text: string }[] = [];
      const subscription = showConflictNotices(activity, (text) => shown.push({ at: asyncScheduler.now(), text }), asyncScheduler);
      expectObservable(activity.pipe(map(() => null)), '^ 20s !').toBe('a 100ms b 500ms m 1s c 3s d 10s m', { a: null, b: null, c: null, d: null, m: null });
      flush();
      subscription.unsubscribe();
      // a (0), b (101), c (1603): quiet from 1603 on, one notice at 3603; d (4604) alone, at 6604.
      expect(shown).toEqual([
        { at: 3603, text: conflictNotice(['one.png', 'two.png', 'three.png']) },
        { at: 6604, text: conflictNotice(['four.png']) },
      ]);
      expect(shown[0]!.text).toBe('Vault Peers: 3 files were changed differently on two devices. Both versions of each are kept; choose in the Conflicts list.');
      expect(shown[1]!.text).toBe('Vault Peers: four.png was changed differently on two devices. Both versions are kept; choose one in the Conflicts list.');
    });
  });
});
