import { asyncScheduler } from 'rxjs';
import { heartbeat, silenceLimitMs, type HeartbeatSchedule } from '../../src/transport/heartbeat';
import { DEFAULT_HEARTBEAT } from '../../src/transport/options';
import { newTestScheduler } from '../support/marbles';

// Round numbers keep the diagrams readable: a ping each 10 ms, probed after 15 ms of silence, two probes of 5 ms,
// a busy peer whose network stack still answers kept for up to 60 ms of silence.
const schedule: HeartbeatSchedule = { intervalMs: 10, lateMs: 15, probeMs: 5, probes: 2, maxQuietMs: 60 };
const values = { p: { type: 'ping' }, q: { type: 'probe' }, g: { type: 'gone', silentMs: 25 } } as const;

describe('heartbeat (virtual time)', () => {
  it('a healthy peer heard every interval: one ping per interval, never a probe', () => {
    newTestScheduler().run(({ hot, expectObservable }) => {
      const heard = hot('10ms a 9ms a 9ms a 9ms a 9ms a');
      expectObservable(heard.pipe(heartbeat(schedule)), '^ 54ms !').toBe('10ms p 9ms p 9ms p 9ms p 9ms p', values);
    });
  });

  it('a killed peer: probed once late, twice unanswered, then gone, 25 ms after it was last heard', () => {
    newTestScheduler().run(({ hot, expectObservable }) => {
      const heard = hot('10ms a');
      // heard at 10: probes at 25 and 30, gone at 35; pings at 10, 20, 30 meanwhile.
      expectObservable(heard.pipe(heartbeat(schedule))).toBe('10ms p 9ms p 4ms q 4ms (pq) 1ms (g|)', values);
    });
  });

  it('a peer that answers a probe is not declared gone, and the watch starts over', () => {
    newTestScheduler().run(({ hot, expectObservable }) => {
      // silent until a probe at 15, answered at 17; silent again: probes at 32 and 37, gone at 42
      const heard = hot('17ms a');
      expectObservable(heard.pipe(heartbeat(schedule))).toBe('10ms p 4ms q 4ms p 9ms p 1ms q 4ms q 2ms p 1ms (g|)', values);
    });
  });

  it('a busy peer whose network stack still acknowledges: watched again, and gone only after maxQuietMs without a message', () => {
    newTestScheduler().run(({ hot, expectObservable }) => {
      const heard = hot('a');
      // Datagrams keep arriving (the peer's stack acknowledges the pings and probes): a counter that grows with time.
      const received = (): number => asyncScheduler.now();
      // Probes at 15, 20; again at 40, 45; again at 65, 70; at 75 the silence reached 60 ms: gone.
      expectObservable(heard.pipe(heartbeat(schedule, asyncScheduler, received))).toBe('10ms p 4ms q 4ms (pq) 6ms p 9ms (pq) 1ms q 4ms p 9ms p 4ms q 4ms (pq) 1ms (g|)', {
        ...values,
        g: { type: 'gone', silentMs: 75 },
      });
    });
  });

  it('packets that arrived before the peer was found late do not count: a killed peer is gone as soon as ever', () => {
    newTestScheduler().run(({ hot, expectObservable }) => {
      const heard = hot('10ms a');
      // Packets until 12 ms (the last ping's acknowledgement), then nothing.
      const received = (): number => Math.min(asyncScheduler.now(), 12);
      expectObservable(heard.pipe(heartbeat(schedule, asyncScheduler, received))).toBe('10ms p 9ms p 4ms q 4ms (pq) 1ms (g|)', values);
    });
  });

  it('never probes a peer heard more often than lateMs, whatever its rhythm', () => {
    newTestScheduler().run(({ hot, expectObservable }) => {
      const heard = hot('14ms a 13ms a 13ms a 13ms a');
      expectObservable(heard.pipe(heartbeat(schedule)), '^ 59ms !').toBe('10ms p 9ms p 9ms p 9ms p 9ms p', values);
    });
  });

  it('unsubscribing stops every timer', () => {
    newTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const heard = hot('-');
      expectObservable(heard.pipe(heartbeat(schedule)), '^ 12ms !').toBe('10ms p', values);
      expectSubscriptions(heard.subscriptions).toBe('^ 12ms !');
    });
  });

  it('the defaults keep one ping a second and notice a silent peer within 2 s', () => {
    expect(DEFAULT_HEARTBEAT.intervalMs).toBe(1_000);
    expect(DEFAULT_HEARTBEAT.lateMs).toBeGreaterThan(DEFAULT_HEARTBEAT.intervalMs);
    expect(silenceLimitMs(DEFAULT_HEARTBEAT)).toBeLessThanOrEqual(2_000);
  });
});

describe('heartbeat with the default schedule (virtual time)', () => {
  it('a peer killed right after a ping is declared gone 1.75 s after it was last heard, probed at 1.25 s and 1.5 s', () => {
    newTestScheduler().run(({ hot, expectObservable }) => {
      const heard = hot('a');
      expectObservable(heard.pipe(heartbeat(DEFAULT_HEARTBEAT))).toBe('1s p 249ms q 249ms q 249ms (g|)', {
        ...values,
        g: { type: 'gone', silentMs: 1_750 },
      });
    });
  });
});
