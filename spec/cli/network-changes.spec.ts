import { networkChanges } from '../../src/cli/host';
import { newTestScheduler } from '../support/marbles';

describe('networkChanges (marbles)', () => {
  it('takes its baseline at subscription and emits once per change, polling on the scheduler', () => {
    const scheduler = newTestScheduler();
    scheduler.run(({ expectObservable }) => {
      // What the interfaces read as at 0, 5 s, 10 s, ...: a change right after start is caught at the first poll.
      const readings = ['wifi', 'ethernet', 'ethernet', 'ethernet', 'wifi', 'wifi'];
      let i = 0;
      const read = (): string => readings[Math.min(i++, readings.length - 1)]!;
      expectObservable(networkChanges(5_000, scheduler, read), '^ 29s !').toBe('5s a 14999ms b', { a: 'ethernet', b: 'wifi' });
    });
  });
});
