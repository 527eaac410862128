/**
 * A correct, sequential lock server driven by simulated concurrent clients, used to
 * generate histories that must pass the checkers. Every operation takes effect at
 * one linearization point inside its real-time interval (or, for an unknown outcome,
 * possibly long after the client gave up, or never). Leases expire lazily on the
 * server's clock, some random slack after grant + ttl, which the contract allows.
 */
import type { HolderView, Operation, ReadOp } from '../../src/verify/history.js';

/** SimParams shapes one simulated run. */
export interface SimParams {
  readonly seed: number;
  readonly clients: number;
  readonly keys: number;
  readonly ops: number;
  readonly ttlMs: number;
  readonly maxLatencyMs: number;
  /** Probability that a response is lost (status unknown). */
  readonly unknownRate: number;
  /** Probability that a request is rejected without being applied (fail not_leader). */
  readonly notLeaderRate: number;
  readonly expirySlackMaxMs: number;
  /** Tokens grow by 1 + [0, tokenGapMax]. */
  readonly tokenGapMax: number;
  readonly reentrantRenews: boolean;
}

/** SimResult is the recorded history plus a final read of every key after all operations settled. */
export interface SimResult {
  readonly history: Operation[];
  readonly finalReads: ReadOp[];
  readonly endMs: number;
}

/** mulberry32 is a tiny seeded PRNG; tests must not use Math.random. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Ev =
  | { kind: 'invoke'; client: number }
  | { kind: 'lin'; rec: MutableOp; applies: boolean }
  | { kind: 'complete'; rec: MutableOp };

interface QItem {
  readonly time: number;
  readonly seq: number;
  readonly ev: Ev;
}

/** A minimal binary heap ordered by (time, seq). */
class EventQueue {
  private readonly items: QItem[] = [];
  private seq = 0;
  get size(): number {
    return this.items.length;
  }
  push(time: number, ev: Ev): void {
    const items = this.items;
    items.push({ time, seq: this.seq++, ev });
    let i = items.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(items[i]!, items[p]!)) break;
      [items[i], items[p]] = [items[p]!, items[i]!];
      i = p;
    }
  }
  pop(): QItem {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && less(items[l]!, items[m]!)) m = l;
        if (r < items.length && less(items[r]!, items[m]!)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }
}

function less(a: QItem, b: QItem): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

interface MutableOp {
  id: number;
  process: number;
  key: string;
  f: Operation['f'];
  input: Record<string, unknown>;
  status: Operation['status'];
  output: unknown;
  invokeMs: number;
  completeMs: number | null;
  lost: boolean;
}

interface ServerLock {
  holder: { owner: string; token: number; expiresAtMs: number } | null;
  lastToken: number;
}

/** simulate runs the clients against the correct server and returns the history. */
export function simulate(p: SimParams): SimResult {
  const rnd = mulberry32(p.seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const keys = Array.from({ length: p.keys }, (_, i) => `lock-${i}`);
  const server = new Map<string, ServerLock>(keys.map((k) => [k, { holder: null, lastToken: 0 }]));
  const held = Array.from({ length: p.clients }, () => new Map<string, number>());
  const past = Array.from({ length: p.clients }, () => new Map<string, number>());
  const q = new EventQueue();
  const history: MutableOp[] = [];
  let nextId = 0;
  let endMs = 0;

  const serverApply = (rec: MutableOp, t: number): { status: 'ok' | 'fail'; output: unknown } => {
    const st = server.get(rec.key)!;
    if (st.holder !== null && t >= st.holder.expiresAtMs) st.holder = null;
    const owner = rec.input['owner'] as string;
    const h = st.holder;
    switch (rec.f) {
      case 'acquire': {
        const ttlMs = rec.input['ttlMs'] as number;
        if (h === null) {
          st.lastToken += 1 + int(0, p.tokenGapMax);
          st.holder = { owner, token: st.lastToken, expiresAtMs: t + ttlMs + int(0, p.expirySlackMaxMs) };
          return { status: 'ok', output: { token: st.lastToken } };
        }
        if (h.owner === owner) {
          if (p.reentrantRenews) h.expiresAtMs = t + ttlMs + int(0, p.expirySlackMaxMs);
          return { status: 'ok', output: { token: h.token } };
        }
        return { status: 'fail', output: { error: 'lock_held' } };
      }
      case 'release':
      case 'renew': {
        const token = rec.input['token'] as number;
        if (h === null || h.owner !== owner || h.token !== token) return { status: 'fail', output: { error: 'not_holder' } };
        if (rec.f === 'release') st.holder = null;
        else h.expiresAtMs = t + (rec.input['ttlMs'] as number) + int(0, p.expirySlackMaxMs);
        return { status: 'ok', output: {} };
      }
      case 'read': {
        const holders: HolderView[] = h === null ? [] : [{ owner: h.owner, token: h.token }];
        return { status: 'ok', output: { holders, lastToken: st.lastToken } };
      }
    }
  };

  const invoke = (client: number, t: number): void => {
    const key = keys[int(0, keys.length - 1)]!;
    const owner = `c${client}`;
    const mine = held[client]!.get(key);
    const old = past[client]!.get(key);
    const ttlMs = int(Math.ceil(p.ttlMs / 2), p.ttlMs);
    const r = rnd();
    let f: Operation['f'];
    let input: Record<string, unknown>;
    if (mine !== undefined) {
      if (r < 0.35) [f, input] = ['release', { owner, token: mine }];
      else if (r < 0.6) [f, input] = ['renew', { owner, token: mine, ttlMs }];
      else if (r < 0.8) [f, input] = ['read', {}];
      else [f, input] = ['acquire', { owner, ttlMs }];
    } else if (r < 0.55) [f, input] = ['acquire', { owner, ttlMs }];
    else if (r < 0.8) [f, input] = ['read', {}];
    else {
      const token = old ?? int(1, 3);
      [f, input] = r < 0.9 ? ['release', { owner, token }] : ['renew', { owner, token, ttlMs }];
    }
    const rec: MutableOp = {
      id: nextId++,
      process: client,
      key,
      f,
      input,
      status: 'unknown',
      output: null,
      invokeMs: t,
      completeMs: null,
      lost: false,
    };
    history.push(rec);
    const u = rnd();
    if (u < p.notLeaderRate) {
      // Rejected before being applied.
      const done = t + int(0, p.maxLatencyMs);
      rec.status = 'fail';
      rec.output = { error: 'not_leader' };
      q.push(done, { kind: 'complete', rec });
    } else if (u < p.notLeaderRate + p.unknownRate) {
      rec.lost = true;
      // The request may be applied long after the client gave up, or never.
      if (rnd() < 0.6) q.push(t + int(0, 6 * p.maxLatencyMs + 1), { kind: 'lin', rec, applies: true });
      q.push(t + 3 * p.maxLatencyMs + 1, { kind: 'complete', rec });
    } else {
      q.push(t + int(0, p.maxLatencyMs), { kind: 'lin', rec, applies: true });
    }
  };

  for (let c = 0; c < p.clients; c++) q.push(int(0, p.maxLatencyMs), { kind: 'invoke', client: c });
  const maxEvents = p.ops * 4 + p.clients * 4 + 16;
  for (let n = 0; q.size > 0; n++) {
    if (n > maxEvents) throw new Error('simulation did not settle');
    const { time, ev } = q.pop();
    endMs = Math.max(endMs, time);
    if (ev.kind === 'invoke') {
      if (nextId < p.ops) invoke(ev.client, time);
    } else if (ev.kind === 'lin') {
      const res = serverApply(ev.rec, time);
      if (!ev.rec.lost) {
        ev.rec.status = res.status;
        ev.rec.output = res.output;
        q.push(time + int(0, p.maxLatencyMs), { kind: 'complete', rec: ev.rec });
      }
    } else {
      const rec = ev.rec;
      const c = rec.process;
      if (rec.lost) {
        rec.status = 'unknown';
        rec.output = null;
        rec.completeMs = null;
        if (rec.f !== 'read') held[c]!.delete(rec.key);
      } else {
        rec.completeMs = time;
        if (rec.status === 'ok' && rec.f === 'acquire') {
          const token = (rec.output as { token: number }).token;
          held[c]!.set(rec.key, token);
          past[c]!.set(rec.key, token);
        } else if ((rec.f === 'release' || rec.f === 'renew') && rec.status !== 'ok' && rec.output !== null) {
          if ((rec.output as { error: string }).error === 'not_holder') held[c]!.delete(rec.key);
        } else if (rec.f === 'release' && rec.status === 'ok') held[c]!.delete(rec.key);
      }
      q.push(time + int(0, p.maxLatencyMs), { kind: 'invoke', client: c });
    }
  }

  // Final reads after everything settled (the "healed" cluster).
  const finalReads: ReadOp[] = [];
  const readAtMs = endMs + 1;
  for (const key of keys) {
    const rec: MutableOp = {
      id: nextId++,
      process: 'final' as unknown as number,
      key,
      f: 'read',
      input: {},
      status: 'ok',
      output: null,
      invokeMs: readAtMs,
      completeMs: readAtMs + 1,
      lost: false,
    };
    rec.output = serverApply(rec, readAtMs).output;
    finalReads.push(strip(rec) as ReadOp);
  }
  return { history: history.map(strip), finalReads, endMs: readAtMs + 1 };
}

function strip(rec: MutableOp): Operation {
  const { lost: _lost, ...op } = rec;
  return op as unknown as Operation;
}

/** DEFAULT_SIM is a medium-contention run used by several tests. */
export const DEFAULT_SIM: Omit<SimParams, 'seed'> = {
  clients: 5,
  keys: 2,
  ops: 200,
  ttlMs: 60,
  maxLatencyMs: 10,
  unknownRate: 0.1,
  notLeaderRate: 0.03,
  expirySlackMaxMs: 20,
  tokenGapMax: 2,
  reentrantRenews: false,
};
