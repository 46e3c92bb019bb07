import { Subject } from 'rxjs';
import { Admission, bucketKey, reportRefusals, summarizeRefusals, type AdmissionLimits, type IncomingSource, type Refusal } from '../../src/transport/admission';
import { newTestScheduler } from '../support/marbles';

const limits: AdmissionLimits = { perSourceBurst: 3, perSourceRefillMs: 1_000, strangerBurst: 5, strangerRefillMs: 100 };
const ip = (address: string): IncomingSource => ({ kind: 'ip', address });

function admission(): { gate: Admission; advance(ms: number): void } {
  let now = 0;
  return { gate: new Admission(limits, () => now), advance: (ms) => void (now += ms) };
}

describe('admission before the handshake', () => {
  it('lets a source start a few handshakes, then turns it away until its budget refills', () => {
    const { gate, advance } = admission();
    const from = ip('192.0.2.7:4000');
    expect([1, 2, 3, 4].map(() => gate.admit(from))).toEqual([true, true, true, false]);
    advance(999);
    expect(gate.admit(ip('192.0.2.7:4001'))).toBe(false); // another port, same address: same budget
    advance(1);
    expect(gate.admit(from)).toBe(true);
    expect(gate.admit(from)).toBe(false);
  });

  it('caps all strangers together, however many addresses they use', () => {
    const { gate, advance } = admission();
    const admitted = Array.from({ length: 50 }, (_, i) => gate.admit(ip(`10.0.${i}.1:1`))).filter(Boolean).length;
    expect(admitted).toBe(5);
    advance(300);
    expect(Array.from({ length: 10 }, (_, i) => gate.admit(ip(`10.1.${i}.1:1`))).filter(Boolean).length).toBe(3);
  });

  it('treats an IPv6 /64 as one source', () => {
    expect(bucketKey(ip('[2001:db8:1:2::5]:9'))).toBe(bucketKey(ip('[2001:0db8:1:2:ffff::1]:10')));
    expect(bucketKey(ip('[2001:db8:1:3::5]:9'))).not.toBe(bucketKey(ip('[2001:db8:1:2::5]:9')));
    expect(bucketKey(ip('127.0.0.1:5'))).toBe('127.0.0.1');
  });

  it('never limits a source that led to an accepted connection, and refunds what it cost', () => {
    const { gate } = admission();
    const friend = ip('192.0.2.8:5000');
    expect(gate.admit(friend)).toBe(true);
    gate.accepted(friend);
    for (let i = 0; i < 20; i += 1) expect(gate.admit(friend)).toBe(true);
    // The refund left the strangers' budget whole.
    expect(Array.from({ length: 10 }, (_, i) => gate.admit(ip(`10.2.${i}.1:1`))).filter(Boolean).length).toBe(5);
  });

  it('never limits an address this device dialled: the device dials back from it', () => {
    const { gate } = admission();
    for (let i = 0; i < 10; i += 1) gate.admit(ip(`10.3.${i}.1:1`)); // budget spent by strangers
    gate.trust(ip('192.0.2.9:6000'));
    expect(gate.admit(ip('192.0.2.9:6000'))).toBe(true);
    expect(gate.admit(ip('192.0.2.9:6001'))).toBe(false);
  });

  it('keeps a bounded number of per-source budgets under a flood from many addresses', () => {
    const { gate, advance } = admission();
    for (let i = 0; i < 20_000; i += 1) {
      gate.admit(ip(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:1`));
      advance(10);
    }
    expect(gate.trackedSources).toBeLessThan(1_100);
  });
});

describe('summarizeRefusals (virtual time)', () => {
  const r = (nodeId: string | null): Refusal => ({ nodeId, reason: 'x' });

  it('gathers a burst into one summary a window after the first refusal, and stays quiet without refusals', () => {
    newTestScheduler().run(({ hot, expectObservable }) => {
      const refusals = hot('a b c 100ms d 500ms e', { a: r('n1'), b: r('n1'), c: r(null), d: r('n2'), e: r(null) });
      // a, b, c at 0-2 ms: one summary at 60 ms; d at 103 ms: another at 163 ms; e at 604 ms: another at 664 ms.
      expectObservable(refusals.pipe(summarizeRefusals(60))).toBe('60ms s 102ms t 500ms u', {
        s: { refused: 3, devices: 1, unseen: 1, windowMs: 60 },
        t: { refused: 1, devices: 1, unseen: 0, windowMs: 60 },
        u: { refused: 1, devices: 0, unseen: 1, windowMs: 60 },
      });
    });
  });

  it('says what was gathered when the source completes', () => {
    const summaries: unknown[] = [];
    const source = new Subject<Refusal>();
    source.pipe(summarizeRefusals(60_000)).subscribe((s) => summaries.push(s));
    source.next(r('n1'));
    source.complete();
    expect(summaries).toEqual([{ refused: 1, devices: 1, unseen: 0, windowMs: 60_000 }]);
  });
});

describe('reportRefusals (virtual time)', () => {
  const r = (nodeId: string | null): Refusal => ({ nodeId, reason: 'x' });

  it('passes the first refusals of a window at once and counts the rest in one report when it closes', () => {
    newTestScheduler().run(({ hot, expectObservable }) => {
      const refusals = hot('a b c d e 100ms f', { a: r('n1'), b: r('n2'), c: r('n3'), d: r('n3'), e: r(null), f: r('n4') });
      // a-e at 0-4 ms open a window closing at 60 ms: a and b at once, c-e counted then; f at 105 ms opens the next.
      expectObservable(refusals.pipe(reportRefusals(60, 2))).toBe('a b 58ms m 44ms f', {
        a: { type: 'refused', refusal: r('n1') },
        b: { type: 'refused', refusal: r('n2') },
        m: { type: 'more', shown: 2, refused: 5, devices: 1, unseen: 1, windowMs: 60 },
        f: { type: 'refused', refusal: r('n4') },
      });
    });
  });

  it('sends no report for a window with no more than the refusals it showed, and keeps no timer without refusals', () => {
    newTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const refusals = hot('a 1s b', { a: r('n1'), b: r('n2') });
      expectObservable(refusals.pipe(reportRefusals(60, 2))).toBe('a 1s b', {
        a: { type: 'refused', refusal: r('n1') },
        b: { type: 'refused', refusal: r('n2') },
      });
      expectSubscriptions(refusals.subscriptions).toBe('^');
    });
  });
});
