import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemberReplacement } from '../../src/verify/harness/member-replacement.js';
import type { NodeProcesses } from '../../src/verify/harness/node-processes.js';

/**
 * The membership nemesis's procedure against a scripted cluster: one HTTP server plays the leader's member routes
 * (every member's URL points at it) and a stand-in for NodeProcesses records kills, wipes and starts. The real
 * procedure on real processes runs in harness.test.ts and the matrix.
 */

interface Row {
  id: string;
  suffrage: 'voter' | 'learner';
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** scriptedCluster serves GET/POST/DELETE /v1/members like a leader would; `promotable` says whether promote passes. */
async function scriptedCluster(): Promise<{ url: string; rows: Row[]; calls: string[]; set: (promotable: boolean) => void }> {
  const rows: Row[] = ['n1', 'n2', 'n3'].map((id) => ({ id, suffrage: 'voter' }));
  const calls: string[] = [];
  let promotable = false;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      calls.push(`${req.method} ${req.url}`);
      const send = (status: number, b: object): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(b));
      const refuse = (reason: string): void => send(409, { error: 'membership_change_refused', message: reason, reason });
      const id = /^\/v1\/members\/([^/]+)/.exec(req.url ?? '')?.[1];
      const row = rows.find((r) => r.id === id);
      if (req.method === 'GET') return send(200, { members: rows.map((r) => ({ ...r, peerAddress: `127.0.0.1:1${r.id.slice(1)}`, httpUrl: 'http://127.0.0.1:2' })) });
      if (req.method === 'DELETE') {
        if (row === undefined) return send(404, { error: 'not_found', reason: 'unknown_member' });
        rows.splice(rows.indexOf(row), 1);
        return send(200, {});
      }
      if (req.url === '/v1/members') {
        const added = JSON.parse(body) as { id: string };
        if (rows.some((r) => r.id === added.id)) return refuse('already_member');
        rows.push({ id: added.id, suffrage: 'learner' });
        return send(201, {});
      }
      if (row === undefined) return send(404, { error: 'not_found', reason: 'unknown_member' });
      if (row.suffrage === 'voter') return refuse('not_learner');
      if (!promotable) return refuse('not_caught_up');
      row.suffrage = 'voter';
      return send(200, {});
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  cleanups.push(() => new Promise<void>((done) => server.close(() => done())));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return { url: `http://127.0.0.1:${port}`, rows, calls, set: (p) => (promotable = p) };
}

/** standInNodes records what the procedure does to the members' processes and data dirs. */
function standInNodes(url: string, base: string): { nodes: NodeProcesses; events: string[] } {
  const events: string[] = [];
  const members = ['n1', 'n2', 'n3'].map((id) => {
    const dataDir = join(base, id);
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'CURRENT'), 'old store');
    return { id, host: '127.0.0.1', peerPort: 1, httpUrl: url, dataDir, child: {} as object | null };
  });
  const node = (id: string) => members.find((m) => m.id === id)!;
  const fake = {
    ids: members.map((m) => m.id),
    node,
    isUp: (id: string) => node(id).child !== null,
    kill: async (id: string) => {
      events.push(`kill ${id}`);
      node(id).child = null;
    },
    start: (id: string) => {
      events.push(`start ${id}`);
      node(id).child = {};
    },
    rejoinOnNextStart: (id: string) => events.push(`rejoin ${id}`),
  };
  return { nodes: fake as unknown as NodeProcesses, events };
}

describe('MemberReplacement', () => {
  it('takes a member out and wipes it; brings it back as a learner with its listed addresses; promotes it only once caught up, within a deadline', async () => {
    const cluster = await scriptedCluster();
    const base = mkdtempSync(join(tmpdir(), 'raftlock-member-nemesis-'));
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    const { nodes, events } = standInNodes(cluster.url, base);
    const replacement = new MemberReplacement({ nodes, access: {}, leaderHint: () => 'n1' });

    const out = await replacement.takeOut('n3', performance.now() + 5_000);
    expect(out.ok, out.detail).toBe(true);
    expect(cluster.rows.map((r) => r.id)).toEqual(['n1', 'n2']);
    expect(events).toEqual(['kill n3', 'rejoin n3']);
    expect(existsSync(join(base, 'n3'))).toBe(true);
    expect(readdirSync(join(base, 'n3'))).toEqual([]); // wiped
    expect(readdirSync(join(base, 'n2'))).toEqual(['CURRENT']);
    expect(replacement.outstanding).toEqual(['n3']);
    expect(cluster.calls.filter((c) => !c.startsWith('GET'))).toEqual(['DELETE /v1/members/n3']);

    // Not caught up: the promotion is retried until the deadline, then reported, and nothing is lost.
    const started = performance.now();
    const stuck = await replacement.bringBack('n3', performance.now() + 3_000);
    expect(performance.now() - started).toBeLessThan(10_000); // bounded: the deadline plus one request's time
    expect(stuck.ok).toBe(false);
    expect(stuck.detail).toMatch(/promote n3 failed: .*409 membership_change_refused\/not_caught_up/);
    expect(cluster.rows).toContainEqual({ id: 'n3', suffrage: 'learner' });
    expect(cluster.calls.filter((c) => c === 'POST /v1/members/n3/promote').length).toBeGreaterThanOrEqual(2);
    expect(events).toEqual(['kill n3', 'rejoin n3', 'start n3']);

    // The final heal reports, in words, a member that is not a voter again.
    const problems = await replacement.restoreAll(performance.now() + 3_000);
    expect(problems).toEqual([expect.stringMatching(/^n3 is not a voter again: promote n3 failed: .*not_caught_up/)]);

    // Once it has caught up the same call restores it; the learner is not added twice or restarted.
    cluster.set(true);
    expect(await replacement.restoreAll(performance.now() + 5_000)).toEqual([]);
    expect(cluster.rows).toContainEqual({ id: 'n3', suffrage: 'voter' });
    expect(cluster.calls.filter((c) => c === 'POST /v1/members').length).toBe(1);
    expect(events).toEqual(['kill n3', 'rejoin n3', 'start n3']);
    expect(replacement.outstanding).toEqual([]);
  });

  it('restoreAll does nothing when no removal can have taken effect (a build without member routes)', async () => {
    const base = mkdtempSync(join(tmpdir(), 'raftlock-member-nemesis-'));
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    const server = createServer((_req, res) => void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}'));
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    cleanups.push(() => new Promise<void>((done) => server.close(() => done())));
    const addr = server.address();
    const { nodes, events } = standInNodes(`http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`, base);
    const replacement = new MemberReplacement({ nodes, access: {}, leaderHint: () => null });
    const out = await replacement.takeOut('n2', performance.now() + 5_000);
    expect([out.ok, out.detail]).toEqual([false, expect.stringContaining('remove n2 failed: 404 not_found')]);
    expect(events).toEqual([]);
    expect(await replacement.restoreAll(performance.now() + 5_000)).toEqual([]);
  });
});
