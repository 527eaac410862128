import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseResponse } from '../../bench/lib/mini-http.js';
import { countOvertakes, findOverlaps, type HoldInterval } from '../../bench/lib/overlap-check.js';
import { SampleBuffer, median, percentile, summarize } from '../../bench/lib/percentile.js';
import { RedisConnection, RespError, decodeReply, encodeCommand } from '../../bench/lib/resp.js';
import { aggregate, type LockRow } from '../../bench/lib/report.js';
import { backoffMs, type LockRunResult } from '../../bench/lib/workloads.js';

describe('percentile', () => {
  it('is nearest-rank: observed values only, p100 is the max', () => {
    const xs = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 90)).toBe(9);
    expect(percentile(xs, 99)).toBe(10);
    expect(percentile(xs, 100)).toBe(10);
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile([42], 99.9)).toBe(42);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile(xs, 101)).toThrow(RangeError);
  });

  it('p999 of 1000 samples is the 999th, not the max', () => {
    const xs = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(percentile(xs, 99.9)).toBe(999);
  });

  it('summarize sorts and reports mean and max', () => {
    const s = summarize(Float64Array.from([5, 1, 3]));
    expect(s).toMatchObject({ count: 3, p50Ms: 3, maxMs: 5, meanMs: 3 });
  });

  it('median takes the middle (or the mean of the two middle ones) and ignores NaN', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([Number.NaN, 7])).toBe(7);
    expect(median([])).toBeNaN();
  });

  it('SampleBuffer keeps a bounded uniform sample past its capacity', () => {
    const buf = new SampleBuffer(1000);
    for (let i = 0; i < 100_000; i++) buf.add(i % 100);
    expect(buf.count).toBe(100_000);
    const s = buf.summary();
    expect(s.count).toBe(1000);
    expect(s.p50Ms).toBeGreaterThan(35);
    expect(s.p50Ms).toBeLessThan(65);
  });
});

describe('findOverlaps', () => {
  const iv = (lock: string, client: number, startMs: number, endMs: number): HoldInterval => ({ lock, client, startMs, endMs });

  it('passes a clean history, including back-to-back holds that touch', () => {
    const clean = [iv('a', 1, 0, 10), iv('a', 2, 10, 20), iv('a', 1, 20.5, 30), iv('b', 2, 5, 25), iv('b', 3, 25, 26)];
    expect(findOverlaps(clean)).toEqual({ total: 0, violations: [] });
  });

  it('catches two clients holding one lock at once, however short the overlap', () => {
    const bad = [iv('a', 1, 0, 10), iv('a', 2, 9.999, 20), iv('b', 1, 0, 1)];
    const r = findOverlaps(bad);
    expect(r.total).toBe(1);
    expect(r.violations[0]).toMatchObject({ lock: 'a', first: { client: 1 }, second: { client: 2 } });
    expect(r.violations[0]!.overlapMs).toBeCloseTo(0.001, 6);
  });

  it('catches an interval nested inside a long one, past shorter intervals in between', () => {
    const r = findOverlaps([iv('a', 1, 0, 100), iv('a', 1, 1, 2), iv('a', 3, 50, 60)]);
    expect(r.total).toBe(1);
    expect(r.violations[0]!.second.client).toBe(3);
  });

  it('rejects an interval that ends before it starts', () => {
    expect(() => findOverlaps([iv('a', 1, 5, 4)])).toThrow(RangeError);
  });
});

describe('countOvertakes', () => {
  it('is zero for FIFO grants and counts grants that jumped the queue', () => {
    const fifo = [0, 1, 2, 3].map((i) => ({ requestedMs: i * 10, grantedMs: 100 + i }));
    expect(countOvertakes(fifo, 5)).toBe(0);
    const jumped = [
      { requestedMs: 0, grantedMs: 200 },
      { requestedMs: 50, grantedMs: 100 },
      { requestedMs: 60, grantedMs: 150 },
    ];
    expect(countOvertakes(jumped, 5)).toBe(2);
    // Within the slack, a swap is a race on the wire, not an overtake.
    expect(countOvertakes([{ requestedMs: 0, grantedMs: 20 }, { requestedMs: 3, grantedMs: 10 }], 5)).toBe(0);
  });
});

describe('backoffMs', () => {
  it('stays within the exponentially growing, capped ceiling', () => {
    const policy = { baseMs: 2, capMs: 64 };
    expect(backoffMs(policy, 1, () => 0.999)).toBeLessThan(2);
    expect(backoffMs(policy, 3, () => 0.999)).toBeLessThan(8);
    expect(backoffMs(policy, 30, () => 0.999)).toBeLessThan(64);
    expect(backoffMs(policy, 30, () => 0)).toBe(0);
  });
});

describe('RESP', () => {
  it('encodes a command as an array of bulk strings, counting bytes not characters', () => {
    expect(encodeCommand(['SET', 'k', 'v', 'PX', 30000]).toString()).toBe('*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nPX\r\n$5\r\n30000\r\n');
    expect(encodeCommand(['GET', 'é']).toString()).toBe('*2\r\n$3\r\nGET\r\n$2\r\né\r\n');
    expect(() => encodeCommand([])).toThrow(RangeError);
  });

  it('decodes every reply type', () => {
    const d = (s: string): unknown => decodeReply(Buffer.from(s))?.value;
    expect(d('+OK\r\n')).toBe('OK');
    expect(d(':42\r\n')).toBe(42);
    expect(d(':-1\r\n')).toBe(-1);
    expect(d('$-1\r\n')).toBeNull();
    expect(d('$5\r\nhe\r\nl\r\n')).toBe('he\r\nl');
    expect(d('*2\r\n$1\r\na\r\n:1\r\n')).toEqual(['a', 1]);
    expect(d('*-1\r\n')).toBeNull();
    const err = d('-ERR wrong\r\n');
    expect(err).toBeInstanceOf(RespError);
    expect((err as RespError).message).toBe('ERR wrong');
  });

  it('returns null for a partial reply and the next offset for pipelined ones', () => {
    const whole = Buffer.from('*2\r\n$3\r\nabc\r\n+OK\r\n:7\r\n');
    for (let cut = 0; cut < 18; cut++) expect(decodeReply(whole.subarray(0, cut))).toBeNull();
    const first = decodeReply(whole)!;
    expect(first.value).toEqual(['abc', 'OK']);
    expect(decodeReply(whole, first.next)).toEqual({ value: 7, next: whole.length });
  });

  it('throws on bytes that are not RESP', () => {
    expect(() => decodeReply(Buffer.from('?x\r\n'))).toThrow(/unexpected type/);
    expect(() => decodeReply(Buffer.from(':x1\r\n'))).toThrow(/bad integer/);
  });

  let server: Server | null = null;
  afterEach(async () => {
    await new Promise<void>((r) => (server === null ? r() : server.close(() => r())));
    server = null;
  });

  it('RedisConnection matches pipelined replies to commands in order, across split packets', async () => {
    server = createServer((sock) => {
      let seen = 0;
      sock.on('data', (chunk) => {
        // Answer every command (one '*' header each) with its number, split in two writes.
        seen += chunk.toString().split('\r\n').filter((l) => l.startsWith('*')).length;
        const replies = Array.from({ length: seen }, (_, i) => `:${i + 1}\r\n`).join('');
        seen = 0;
        sock.write(replies.slice(0, 3));
        setImmediate(() => sock.write(replies.slice(3)));
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const conn = await RedisConnection.open('127.0.0.1', port);
    try {
      const replies = await Promise.all([conn.call(['PING']), conn.call(['PING']), conn.call(['PING'])]);
      expect(replies.length).toBe(3);
      expect(replies.every((r) => typeof r === 'number')).toBe(true);
    } finally {
      conn.close();
    }
  });
});

describe('parseResponse (minimal HTTP client)', () => {
  it('parses a Content-Length response and leaves the rest', () => {
    const buf = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 11\r\nKeep-Alive: timeout=72\r\n\r\n{"token":7}HTTP/1.1');
    const r = parseResponse(buf)!;
    expect(r.response).toEqual({ status: 200, body: '{"token":7}' });
    expect(r.close).toBe(false);
    expect(buf.subarray(r.used).toString()).toBe('HTTP/1.1');
    expect(parseResponse(buf.subarray(0, buf.length - 12))).toBeNull();
  });

  it('parses a chunked response (etcd keepalive) and notices Connection: close', () => {
    const buf = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n{"a":\r\n3\r\n12}\r\n0\r\n\r\n');
    const r = parseResponse(buf)!;
    expect(r.response).toEqual({ status: 200, body: '{"a":12}' });
    expect(r.close).toBe(true);
    expect(r.used).toBe(buf.length);
    expect(parseResponse(buf.subarray(0, buf.length - 2))).toBeNull();
  });

  it('throws on a response that is not HTTP', () => {
    expect(() => parseResponse(Buffer.from('SSH-2.0\r\n\r\n'))).toThrow(/status line/);
  });
});

describe('aggregate (CPU per cycle)', () => {
  const lockRun = (cycles: number, perProcess: number[]): LockRunResult => ({
    kind: 'locks', cycles, cyclesPerSec: cycles, acquire: summarize(Float64Array.of(1)), cycle: summarize(Float64Array.of(2)), errors: 0, errorSamples: [], intervals: cycles, violations: 0,
    violationSamples: [], overtakes: 0, grants: 0, retriesPerAcquire: 0, serverCpuSec: perProcess.reduce((a, b) => a + b, 0), serverCpuSecPerProcess: perProcess,
    loadCpuSec: 0, windowSec: 1,
  });
  it('divides server CPU by cycles, per node busiest first, medians over runs', () => {
    const rows = aggregate([
      { system: 'raftlock', workload: 'uncontended-64', run: 1, result: lockRun(1000, [0.05, 0.2, 0.05]), peakRssMiB: 1, peakRssMiBPerProcess: [] },
      { system: 'raftlock', workload: 'uncontended-64', run: 2, result: lockRun(2000, [0.1, 0.1, 0.6]), peakRssMiB: 1, peakRssMiBPerProcess: [] },
      { system: 'raftlock', workload: 'uncontended-64', run: 3, result: lockRun(1000, [0.3, 0.1, 0.1]), peakRssMiB: 1, peakRssMiBPerProcess: [] },
    ]);
    const row = rows[0] as LockRow;
    // Runs: 300 µs (200/50/50), 400 µs (300/50/50), 500 µs (300/100/100).
    expect(row.cpuUsPerCycle).toBeCloseTo(400, 6);
    expect(row.cpuUsPerCyclePerProcess.map((v) => Math.round(v))).toEqual([300, 50, 50]);
  });
});
