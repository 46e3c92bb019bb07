import { withDeadline, withTimeout } from '../../src/transport/deadline';
import { activeTimers } from '../support/iroh';

describe('withDeadline', () => {
  it('returns what the body returns and leaves no timer behind', async () => {
    const before = activeTimers();
    await expect(withDeadline(60_000, () => new Error('late'), async (within) => (await within(Promise.resolve(2))) * 3)).resolves.toBe(6);
    expect(activeTimers()).toBeLessThanOrEqual(before);
  });

  it('rejects the step pending when the deadline shared by all steps passes', async () => {
    const steps: string[] = [];
    const run = withDeadline(50, () => new Error('too slow'), async (within) => {
      await within(new Promise((resolve) => setTimeout(resolve, 30)));
      steps.push('first');
      await within(new Promise((resolve) => setTimeout(resolve, 30))); // 60 ms in all: past the deadline
      steps.push('second');
    });
    await expect(run).rejects.toThrow('too slow');
    expect(steps).toEqual(['first']);
  });

  it('passes on the body’s own error', async () => {
    await expect(withTimeout(Promise.reject(new Error('own')), 1_000, () => new Error('late'))).rejects.toThrow('own');
  });
});
