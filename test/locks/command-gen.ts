/**
 * Generators of symbolic lock commands for the property tests. A spec names a
 * hold or waiter by position ("the k-th holder of lock a"); resolve() turns it
 * into a concrete LockCommand against the reference model's current state, so
 * generated releases and renews usually hit real tokens.
 */
import fc from 'fast-check';
import type { LeaseTableLimits, LockCommand, LockMode } from '../../src/locks/index.js';
import type { ReferenceLockTable } from './reference-model.js';

/** Small limits so that the bounds are reached in short runs. */
export const PROPERTY_LIMITS: Partial<LeaseTableLimits> = {
  waitersPerLockMax: 3,
  holdersPerLockMax: 4,
  dedupeEntriesMax: 6,
  dedupeTtlMs: 4_000,
};

export const NAMES = ['a', 'b', 'c'] as const;
export const OWNERS = ['o1', 'o2', 'o3'] as const;
export const SESSIONS = ['s1', 's2'] as const;
const REQUEST_IDS = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9', 'r10', 'r11', 'r12'] as const;

export type Spec =
  | {
      k: 'acquire';
      name: string;
      owner: string;
      mode: LockMode;
      limit?: number;
      ttlMs?: number;
      sessionId?: string;
      waitMs: number;
      lockDelayMs?: number;
      requestId?: string;
    }
  | { k: 'release'; name: string; pick: number; wrongOwner: boolean; requestId?: string }
  | { k: 'renew'; name: string; pick: number; ttlMs?: number; requestId?: string }
  | { k: 'force'; name: string; requestId?: string }
  | { k: 'createSession'; sessionId: string; ttlMs: number; owner?: string; requestId?: string }
  | { k: 'keepalive'; sessionId: string; requestId?: string }
  | { k: 'deleteSession'; sessionId: string; requestId?: string }
  | { k: 'cancel'; name: string; pick: number; byRequest: boolean; owner: 'none' | 'right' | 'any' }
  | { k: 'expire' }
  | { k: 'expireAtDeadline' }
  | { k: 'extend'; byMs: number }
  | { k: 'garbage'; value: unknown };

/** Step is one generated log entry: a spec and how far the leader clock moves first (may be negative). */
export interface Step {
  readonly spec: Spec;
  readonly dtMs: number;
}

const name = fc.constantFrom(...NAMES);
const owner = fc.constantFrom(...OWNERS);
const sessionId = fc.constantFrom(...SESSIONS);
const requestId = fc.option(fc.constantFrom(...REQUEST_IDS), { nil: undefined, freq: 2 });

function compact<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

const acquireSpec: fc.Arbitrary<Spec> = fc
  .record({
    name,
    owner,
    shared: fc.boolean(),
    limit: fc.option(fc.constantFrom(1, 2, 3), { nil: undefined, freq: 2 }),
    lease: fc.oneof(
      { arbitrary: fc.constantFrom(100, 150, 300, 1_000).map((ttlMs) => ({ ttlMs })), weight: 3 },
      { arbitrary: sessionId.map((s) => ({ sessionId: s })), weight: 2 },
    ),
    waitMs: fc.constantFrom(0, 100, 400, 2_000, 5_000),
    lockDelayMs: fc.option(fc.constantFrom(0, 50, 250), { nil: undefined, freq: 2 }),
    requestId,
  })
  .map(
    (r): Spec =>
      compact({
        k: 'acquire' as const,
        name: r.name,
        owner: r.owner,
        mode: r.shared ? ('shared' as const) : ('exclusive' as const),
        limit: r.shared ? r.limit : undefined,
        ...r.lease,
        waitMs: r.waitMs,
        lockDelayMs: r.lockDelayMs,
        requestId: r.requestId,
      }),
  );

const garbage: fc.Arbitrary<Spec> = fc
  .oneof(
    fc.anything(),
    fc.record({ type: fc.constantFrom('acquire', 'release', 'renew', 'createSession', 'extendLeases'), name, ttlMs: fc.integer() }),
    fc.record({ type: fc.constant('acquire'), name, owner, mode: fc.constant('exclusive'), ttlMs: fc.constant(99), waitMs: fc.constant(0) }),
  )
  .map((value) => ({ k: 'garbage' as const, value }));

/** specArb generates one symbolic command, weighted towards lock traffic and expiry. */
export const specArb: fc.Arbitrary<Spec> = fc.oneof(
  { arbitrary: acquireSpec, weight: 10 },
  {
    arbitrary: fc
      .record({ name, pick: fc.nat(5), wrongOwner: fc.nat(3).map((n) => n === 0), requestId })
      .map((r) => compact({ k: 'release' as const, ...r })),
    weight: 7,
  },
  {
    arbitrary: fc
      .record({ name, pick: fc.nat(5), ttlMs: fc.option(fc.constantFrom(100, 500, 2_000), { nil: undefined }), requestId })
      .map((r) => compact({ k: 'renew' as const, ...r })),
    weight: 3,
  },
  { arbitrary: fc.record({ name, requestId }).map((r) => compact({ k: 'force' as const, ...r })), weight: 1 },
  {
    arbitrary: fc
      .record({
        sessionId,
        ttlMs: fc.constantFrom(1_000, 3_000, 10_000),
        owner: fc.option(owner, { nil: undefined, freq: 3 }),
        requestId,
      })
      .map((r) => compact({ k: 'createSession' as const, ...r })),
    weight: 3,
  },
  { arbitrary: fc.record({ sessionId, requestId }).map((r) => compact({ k: 'keepalive' as const, ...r })), weight: 4 },
  { arbitrary: fc.record({ sessionId, requestId }).map((r) => compact({ k: 'deleteSession' as const, ...r })), weight: 1 },
  {
    // A long-poll's cancel: of a queued waiter or of a request id (maybe granted), with an owner (its client gone) or not.
    arbitrary: fc
      .record({ name, pick: fc.nat(11), byRequest: fc.boolean(), owner: fc.constantFrom('none' as const, 'right' as const, 'any' as const) })
      .map((r) => ({ k: 'cancel' as const, ...r })),
    weight: 2,
  },
  { arbitrary: fc.constant({ k: 'expire' as const }), weight: 4 },
  { arbitrary: fc.constant({ k: 'expireAtDeadline' as const }), weight: 3 },
  { arbitrary: fc.constantFrom(0, 300, 1_000).map((byMs) => ({ k: 'extend' as const, byMs })), weight: 1 },
  { arbitrary: garbage, weight: 1 },
);

/** dtArb: mostly small forward steps, sometimes a jump, sometimes a clock that went back. */
export const dtArb: fc.Arbitrary<number> = fc.oneof(
  { arbitrary: fc.constant(0), weight: 2 },
  { arbitrary: fc.integer({ min: 1, max: 150 }), weight: 6 },
  { arbitrary: fc.integer({ min: 500, max: 3_000 }), weight: 1 },
  { arbitrary: fc.integer({ min: -400, max: -1 }), weight: 1 },
);

export const stepArb: fc.Arbitrary<Step> = fc.record({ spec: specArb, dtMs: dtArb });

/**
 * resolve turns a spec into a concrete command using the reference model's
 * state; `clockMs` is the leader clock before the step. Returns the command and
 * the leader time to stamp it with.
 */
export function resolve(spec: Spec, ref: ReferenceLockTable, clockMs: number, dtMs: number): { cmd: LockCommand; timeMs: number } {
  let timeMs = clockMs + dtMs;
  let cmd: LockCommand;
  switch (spec.k) {
    case 'acquire': {
      const { k: _k, ...rest } = spec;
      cmd = { type: 'acquire', ...rest };
      break;
    }
    case 'release':
    case 'renew': {
      const holds = ref.holdsOf(spec.name);
      const h = holds.length === 0 ? { owner: 'o1', token: 1 + spec.pick } : holds[spec.pick % holds.length]!;
      const o = spec.k === 'release' && spec.wrongOwner ? `${h.owner}-x` : h.owner;
      const base = { name: spec.name, owner: o, token: h.token, ...(spec.requestId === undefined ? {} : { requestId: spec.requestId }) };
      cmd = spec.k === 'release' ? { type: 'release', ...base } : { type: 'renew', ...base, ...(spec.ttlMs === undefined ? {} : { ttlMs: spec.ttlMs }) };
      break;
    }
    case 'force':
      cmd = compact({ type: 'forceRelease' as const, name: spec.name, requestId: spec.requestId });
      break;
    case 'createSession':
      cmd = compact({ type: 'createSession' as const, sessionId: spec.sessionId, ttlMs: spec.ttlMs, owner: spec.owner, requestId: spec.requestId });
      break;
    case 'keepalive':
      cmd = compact({ type: 'keepalive' as const, sessionId: spec.sessionId, requestId: spec.requestId });
      break;
    case 'deleteSession':
      cmd = compact({ type: 'deleteSession' as const, sessionId: spec.sessionId, requestId: spec.requestId });
      break;
    case 'cancel': {
      // By request: one whose attempts are counted (queued or granted, maybe undelivered), else any.
      const counted = ref.countedRequestIds();
      const ids = spec.byRequest ? (counted.length > 0 ? counted : REQUEST_IDS) : ref.waiterIdsOf(spec.name);
      const waiterId = ids.length === 0 ? 'none' : ids[spec.pick % ids.length]!;
      // 'right': the name and owner the request was for, as its own long-poll would send them.
      const asked = spec.owner === 'right' ? ref.requestOf(waiterId) : null;
      const owner = spec.owner === 'none' ? undefined : (asked?.owner ?? OWNERS[spec.pick % OWNERS.length]!);
      cmd = compact({ type: 'cancelWait' as const, name: asked?.name ?? spec.name, waiterId, owner });
      break;
    }
    case 'expire':
      cmd = { type: 'expire' };
      break;
    case 'expireAtDeadline': {
      const d = ref.nextDeadlineMs();
      if (d !== null && d > timeMs) timeMs = d;
      cmd = { type: 'expire' };
      break;
    }
    case 'extend':
      cmd = { type: 'extendLeases', byMs: spec.byMs };
      break;
    case 'garbage':
      cmd = spec.value as LockCommand;
      break;
  }
  return { cmd, timeMs };
}
