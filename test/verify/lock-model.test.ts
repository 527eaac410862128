import { describe, expect, it } from 'vitest';
import type { Operation } from '../../src/verify/history.js';
import { checkLockHistory, lockModel, pruneLockStates, type LockState, type UnknownOpMode } from '../../src/verify/lock-model.js';
import { acq, rd, rel, ren, withKey } from './ops.js';

const MODES: readonly UnknownOpMode[] = ['ambient', 'exact'];

function verdict(history: readonly Operation[], mode: UnknownOpMode = 'ambient', marginMs = 0): string {
  return checkLockHistory(history, { marginMs, unknownOps: mode }).result;
}

describe.each(MODES)('lock model, unknown ops %s', (mode) => {
  const check = (h: readonly Operation[], marginMs = 0): string => verdict(h, mode, marginMs);

  describe('good histories pass', () => {
    it('sequential acquire, read, release, acquire', () => {
      expect(
        check([
          acq('a', 1000, [0, 10], 1),
          rd([20, 30], [['a', 1]], 1),
          rel('a', 1, [40, 50], 'ok'),
          rd([55, 58], [], 1),
          acq('b', 1000, [60, 70], 2),
          rd([80, 90], [['b', 2]], 2),
        ]),
      ).toBe('ok');
    });

    it('concurrent acquires: one wins, the other is refused; either order', () => {
      expect(check([acq('a', 1000, [0, 10], 1), acq('b', 1000, [5, 15], 'held')])).toBe('ok');
      // b's refusal is linearized after a's grant even though b was invoked first.
      expect(check([acq('b', 1000, [0, 20], 'held'), acq('a', 1000, [5, 10], 1)])).toBe('ok');
    });

    it('reentrant acquire returns the same token', () => {
      expect(check([acq('a', 1000, [0, 10], 4), acq('a', 1000, [20, 30], 4), rel('a', 4, [40, 50], 'ok')])).toBe('ok');
    });

    it('tokens may skip values but must increase', () => {
      expect(check([acq('a', 1000, [0, 10], 3), rel('a', 3, [20, 30], 'ok'), acq('b', 1000, [40, 50], 17)])).toBe('ok');
    });

    it('release and renew by a non-holder fail', () => {
      expect(
        check([acq('a', 1000, [0, 10], 1), rel('b', 1, [20, 30], 'not_holder'), ren('a', 2, 100, [20, 30], 'not_holder')]),
      ).toBe('ok');
    });

    it('failures that were not applied say nothing', () => {
      expect(check([acq('a', 1000, [0, 10], 1), acq('b', 1000, [20, 30], { error: 'not_leader' }), rd([40, 50], 'fail')])).toBe('ok');
    });

    it('keys are independent', () => {
      const h = [...withKey('x', [acq('a', 1000, [0, 10], 1)]), ...withKey('y', [acq('b', 1000, [0, 10], 1)])];
      const r = checkLockHistory(h, { marginMs: 0, unknownOps: mode });
      expect(r.valid).toBe(true);
      expect(r.keys.map((k) => k.key)).toEqual(['x', 'y']);
    });
  });

  describe('bad histories are caught', () => {
    it('two overlapping holders with ok acquires', () => {
      expect(check([acq('a', 1000, [0, 10], 1), acq('b', 1000, [20, 30], 2)])).toBe('illegal');
    });

    it('a token going backwards', () => {
      expect(check([acq('a', 1000, [0, 10], 5), rel('a', 5, [20, 30], 'ok'), acq('b', 1000, [40, 50], 3)])).toBe('illegal');
    });

    it('a reused token', () => {
      expect(check([acq('a', 1000, [0, 10], 1), rel('a', 1, [20, 30], 'ok'), acq('b', 1000, [40, 50], 1)])).toBe('illegal');
    });

    it('a reentrant acquire with a different token', () => {
      expect(check([acq('a', 1000, [0, 10], 1), acq('a', 1000, [20, 30], 2)])).toBe('illegal');
    });

    it('a stale read', () => {
      const h = [acq('a', 1000, [0, 10], 1), rel('a', 1, [20, 30], 'ok'), acq('b', 1000, [40, 50], 2)];
      expect(check([...h, rd([60, 70], [['a', 1]], 1)])).toBe('illegal');
      expect(check([...h, rd([60, 70], [['b', 2]], 1)])).toBe('illegal'); // stale lastToken only
      expect(check([...h, rd([60, 70], [['b', 2]], 2)])).toBe('ok');
    });

    it('a release ok by a non-holder', () => {
      expect(check([acq('a', 1000, [0, 10], 1), rel('b', 1, [20, 30], 'ok')])).toBe('illegal');
      expect(check([acq('a', 1000, [0, 10], 1), rel('a', 2, [20, 30], 'ok')])).toBe('illegal');
      expect(check([rel('a', 1, [0, 10], 'ok')])).toBe('illegal');
    });

    it('a release refused to the holder before the lease could expire', () => {
      expect(check([acq('a', 1000, [0, 10], 1), rel('a', 1, [20, 30], 'not_holder')])).toBe('illegal');
    });

    it('an acquire refused while the lock is provably free', () => {
      expect(check([acq('a', 1000, [0, 10], 'held')])).toBe('illegal');
      expect(check([acq('a', 1000, [0, 10], 1), rel('a', 1, [20, 30], 'ok'), acq('b', 1000, [40, 50], 'held')])).toBe('illegal');
      // Refused to the holder itself: a reentrant acquire succeeds.
      expect(check([acq('a', 1000, [0, 10], 1), acq('a', 1000, [20, 30], 'held')])).toBe('illegal');
    });

    it('a read showing a holder with a token above lastToken', () => {
      expect(check([acq('a', 1000, [0, 10], 1), rd([20, 30], [['a', 5]], 1)])).toBe('illegal');
    });

    it('explains the violation with the longest prefix and the stuck operation', () => {
      const first = acq('a', 1000, [0, 10], 1);
      const second = acq('b', 1000, [20, 30], 2);
      const r = checkLockHistory([first, rd([12, 15], [['a', 1]], 1), second], { marginMs: 0, unknownOps: mode });
      const k = r.keys[0]!;
      expect(k.result).toBe('illegal');
      expect(k.explanation?.stuckOp.id).toBe(second.id);
      expect(k.explanation?.linearizedPrefix.map((o) => o.id)).toContain(first.id);
      expect(k.explanation?.linearizedPrefix).toHaveLength(2);
      expect(k.explanation?.statesAfterPrefix.join()).toContain('held by a token 1');
    });
  });

  describe('operations of unknown outcome', () => {
    it('an unknown acquire may have taken effect (revealed by a read)', () => {
      expect(check([acq('a', 1000, [0, null], 'unknown'), rd([50, 60], [['a', 2]], 2), rel('a', 2, [70, 80], 'ok')])).toBe('ok');
    });

    it('an unknown acquire may never have taken effect', () => {
      expect(check([acq('a', 1000, [0, null], 'unknown'), acq('b', 1000, [10, 20], 1), rd([30, 40], [['b', 1]], 1)])).toBe('ok');
      expect(check([acq('a', 1000, [0, null], 'unknown'), rd([30, 40], [], 0)])).toBe('ok');
    });

    it('an unknown acquire may take effect long after the client gave up', () => {
      expect(
        check([
          acq('b', 100, [0, 10], 1),
          acq('a', 1000, [20, null], 'unknown'), // refused now, applied later
          rd([30, 40], [['b', 1]], 1),
          rel('b', 1, [50, 60], 'ok'),
          rd([500, 510], [['a', 2]], 2),
        ]),
      ).toBe('ok');
    });

    it('an unknown acquire cannot take effect before it was invoked', () => {
      expect(check([rd([0, 10], [['a', 1]], 1), acq('a', 1000, [20, null], 'unknown')])).toBe('illegal');
    });

    it('an unrevealed grant blocks others until its lease may have expired', () => {
      const h = [acq('a', 100, [0, null], 'unknown'), rd([10, 20], 'fail')];
      // b's grant is legal if a's never happened.
      expect(check([...h, acq('b', 100, [30, 40], 5)])).toBe('ok');
      // But a read before b's grant showed a holding, so b must wait for the lease.
      expect(check([...h, rd([25, 28], [['a', 1]], 1), acq('b', 100, [30, 40], 5)])).toBe('illegal');
      expect(check([...h, rd([25, 28], [['a', 1]], 1), acq('b', 100, [130, 140], 5)])).toBe('ok');
    });

    it('the token of an unrevealed grant is above every earlier token', () => {
      const h = [acq('b', 50, [0, 10], 3), rel('b', 3, [20, 30], 'ok'), acq('a', 1000, [40, null], 'unknown')];
      expect(check([...h, rd([50, 60], [['a', 4]], 4)])).toBe('ok');
      expect(check([...h, rd([50, 60], [['a', 3]], 3)])).toBe('illegal');
    });

    it('an unknown release may or may not have taken effect', () => {
      const h = [acq('a', 1000, [0, 10], 1), rel('a', 1, [20, null], 'unknown')];
      expect(check([...h, rd([30, 40], [['a', 1]], 1)])).toBe('ok');
      expect(check([...h, rd([30, 40], [], 1)])).toBe('ok');
      expect(check([...h, rd([30, 40], [], 1), rd([50, 60], [['a', 1]], 1)])).toBe('illegal');
    });

    it('an unknown renew may have extended the lease', () => {
      const h = [acq('a', 100, [0, 10], 1), ren('a', 1, 100, [50, null], 'unknown')];
      // At 120 the original lease may be over, so b may win; a read at 120 may also still show a.
      expect(check([...h, acq('b', 100, [120, 130], 2)])).toBe('ok');
      expect(check([...h, rd([120, 130], [['a', 1]], 1)])).toBe('ok');
    });

    it('unknown operations do not excuse overlapping holders', () => {
      expect(
        check([
          acq('a', 1000, [0, 10], 1),
          rel('c', 1, [5, null], 'unknown'),
          acq('c', 1000, [5, null], 'unknown'),
          acq('b', 1000, [20, 30], 2),
        ]),
      ).toBe('illegal');
    });
  });

  describe('leases', () => {
    it('an expiry-based re-grant is legal only after the TTL', () => {
      const grant = acq('a', 100, [0, 10], 1);
      expect(check([grant, acq('b', 100, [150, 160], 2)])).toBe('ok');
      expect(check([grant, acq('b', 100, [50, 60], 2)])).toBe('illegal');
      // The bound counts from a's invocation: b completing exactly at 0 + 100 may follow the expiry.
      expect(check([grant, acq('b', 100, [90, 100], 2)])).toBe('ok');
      expect(check([grant, acq('b', 100, [90, 99], 2)])).toBe('illegal');
    });

    it('marginMs widens the window', () => {
      const h = [acq('a', 100, [0, 10], 1), acq('b', 100, [80, 95], 2)];
      expect(check(h, 0)).toBe('illegal');
      expect(check(h, 10)).toBe('ok');
    });

    it('a renew restarts the lease from its invocation', () => {
      const h = [acq('a', 100, [0, 10], 1), ren('a', 1, 100, [50, 60], 'ok')];
      expect(check([...h, acq('b', 100, [120, 130], 2)])).toBe('illegal');
      expect(check([...h, acq('b', 100, [160, 170], 2)])).toBe('ok');
    });

    it('a read may show the lock free only once the lease may have expired', () => {
      const grant = acq('a', 100, [0, 10], 1);
      expect(check([grant, rd([120, 130], [], 1)])).toBe('ok');
      expect(check([grant, rd([50, 60], [], 1)])).toBe('illegal');
    });

    it('an acquire may be refused while the lease may still run (expiry is lazy)', () => {
      expect(check([acq('a', 100, [0, 10], 1), acq('b', 100, [500, 510], 'held')])).toBe('ok');
    });

    it('a release by the holder may be refused after the lease may have expired', () => {
      expect(check([acq('a', 100, [0, 10], 1), rel('a', 1, [150, 160], 'not_holder')])).toBe('ok');
    });

    it('after assuming an expiry, later operations are after it in real time', () => {
      // b's grant needs a's lease over (t >= 100), so a read that ended at 70 cannot see b.
      expect(check([acq('a', 100, [0, 10], 1), acq('b', 100, [50, 150], 2), rd([60, 70], [['b', 2]], 2)])).toBe('illegal');
      expect(check([acq('a', 100, [0, 10], 1), acq('b', 100, [50, 150], 2), rd([60, 170], [['b', 2]], 2)])).toBe('ok');
    });
  });
});

describe('lock model options', () => {
  it('initialLastToken sets where tokens start', () => {
    const h = [acq('a', 1000, [0, 10], 5)];
    expect(checkLockHistory(h, { marginMs: 0, initialLastToken: 4 }).result).toBe('ok');
    expect(checkLockHistory(h, { marginMs: 0, initialLastToken: 5 }).result).toBe('illegal');
  });

  it('reentrantRenewsLease says whether a reentrant acquire restarts the lease', () => {
    // A later, longer restart: b at 120 is legal only if the restart may not have happened.
    const longer = [acq('a', 100, [0, 10], 1), acq('a', 100, [50, 60], 1), acq('b', 100, [120, 130], 2)];
    expect(checkLockHistory(longer, { marginMs: 0 }).result).toBe('ok');
    expect(checkLockHistory(longer, { marginMs: 0, reentrantRenewsLease: 'no' }).result).toBe('ok');
    expect(checkLockHistory(longer, { marginMs: 0, reentrantRenewsLease: 'yes' }).result).toBe('illegal');
    // A restart with a shorter ttl shortens the lease: b at 80 is legal only if it may have happened.
    const shorter = [acq('a', 1000, [0, 10], 1), acq('a', 10, [50, 60], 1), acq('b', 100, [70, 80], 2)];
    expect(checkLockHistory(shorter, { marginMs: 0 }).result).toBe('ok');
    expect(checkLockHistory(shorter, { marginMs: 0, reentrantRenewsLease: 'yes' }).result).toBe('ok');
    expect(checkLockHistory(shorter, { marginMs: 0, reentrantRenewsLease: 'no' }).result).toBe('illegal');
  });

  it('rejects a negative margin', () => {
    expect(() => lockModel({ marginMs: -1 })).toThrow(/marginMs/);
  });

  it('rejects a malformed history instead of judging it', () => {
    const bad = { ...acq('a', 100, [0, 10], 1), completeMs: -5 } as Operation;
    expect(() => checkLockHistory([bad], { marginMs: 0 })).toThrow(/completeMs before invokeMs/);
  });
});

describe('pruneLockStates', () => {
  const held = (exp: number, minNow: number): LockState => ({
    holder: { owner: 'a', token: 1, expiresNotBeforeMs: exp },
    lastToken: 1,
    lastTokenExact: true,
    minNowMs: minNow,
  });

  it('keeps only states not subsumed by another of the same shape', () => {
    const kept = pruneLockStates([held(100, 0), held(200, 0), held(50, 10)]);
    expect(kept).toEqual([held(100, 0), held(50, 10)]);
  });

  it('never merges different holders or exact tokens', () => {
    const free: LockState = { holder: null, lastToken: 1, lastTokenExact: true, minNowMs: 0 };
    const bound: LockState = { holder: null, lastToken: 1, lastTokenExact: false, minNowMs: 0 };
    expect(pruneLockStates([held(100, 0), free, bound])).toHaveLength(3);
  });

  it('a lower token bound subsumes a higher one', () => {
    const b = (l: number): LockState => ({ holder: null, lastToken: l, lastTokenExact: false, minNowMs: 0 });
    expect(pruneLockStates([b(3), b(1), b(2)])).toEqual([b(1)]);
  });
});
