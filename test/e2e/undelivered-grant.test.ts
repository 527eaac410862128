import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster, httpJson, waitFor, waitForLeader } from '../support/process-cluster.js';

/**
 * A queued acquire whose HTTP client disconnects just as the lock is released
 * to it (issue 11, hole 4), against a real 3-node cluster: nobody can receive
 * that grant, so the lock must be free again within a bound, not held by
 * nobody for the grant's TTL. The long-poll's cancel names the owner, and the
 * table undoes a grant that no attempt of the acquire can deliver.
 *
 * Raw sockets make the race tight: the release is written on an open
 * connection and the waiting connection is dropped right after, before the
 * release can have committed (that takes a round of appends and fsyncs), so
 * the answer can never reach the client. Which the leader handles first, the
 * release or the disconnect, varies: when the disconnect comes first the
 * waiter just leaves the queue; when the release does, the lock is granted to
 * a client already gone, and the grant must be undone. The leader's
 * raftlock_grants_undone_total shows that the second case ran.
 */

let cluster: ProcessCluster;
let leaderUrl: string;

beforeAll(async () => {
  cluster = await ProcessCluster.create({ nodes: 3 });
  cluster.startAll();
  leaderUrl = cluster.node(await waitForLeader(cluster)).httpUrl;
});

afterAll(async () => {
  await cluster?.stop();
});

const TTL_MS = 60_000;
/** Far below the TTL: undoing the grant is one more log entry. */
const FREE_WITHIN_MS = 5_000;
/** Rounds until the grant-then-disconnect order has been seen this often (the other order is checked too). */
const UNDONE_WANTED = 2;
const ROUNDS_MAX = 20;

/** RawCall is one HTTP request on its own connection; `received` counts the answer's bytes so far. */
interface RawCall {
  readonly socket: Socket;
  received: number;
  readonly answer: Promise<string>;
}

async function openConnection(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

function send(socket: Socket, path: string, body: unknown): RawCall {
  const json = JSON.stringify(body);
  const chunks: Buffer[] = [];
  const call: RawCall = {
    socket,
    received: 0,
    answer: new Promise((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        call.received += chunk.length;
        chunks.push(chunk);
      });
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.on('error', () => undefined);
    }),
  };
  socket.write(`POST ${path} HTTP/1.1\r\nhost: raftlock\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(json)}\r\nconnection: close\r\n\r\n${json}`);
  return call;
}

const post = (path: string, body: unknown) => httpJson(`${leaderUrl}${path}`, 'POST', body);

/** grantsUndone reads the leader's count of undone grants from /metrics. */
async function grantsUndone(): Promise<number> {
  const text = (await httpJson(`${leaderUrl}/metrics`)).body as string;
  const m = /^raftlock_grants_undone_total (\d+)$/m.exec(text);
  if (m === null) throw new Error('raftlock_grants_undone_total missing from /metrics');
  return Number(m[1]);
}

/** leaderTerm is the term of the member at leaderUrl while it still leads, else null. */
async function leaderTerm(): Promise<number | null> {
  const status = (await httpJson(`${leaderUrl}/v1/status`)).body as { role: string; term: number };
  return status.role === 'leader' ? status.term : null;
}

describe('a grant to a client that has gone', () => {
  it('is undone: the lock is free again within seconds, not held for its TTL', async () => {
    let undone = 0;
    let rounds = 0;
    let deposedRounds = 0;
    // Bounded: at most ROUNDS_MAX rounds.
    for (let i = 0; i < ROUNDS_MAX && undone < UNDONE_WANTED; i++, rounds++) {
      const path = `/v1/locks/gone-${i}`;
      const undoneBefore = await grantsUndone();
      const termBefore = await leaderTerm();
      const holder = await post(`${path}/acquire`, { owner: 'holder', ttlMs: TTL_MS });
      expect(holder.status).toBe(200);
      const waiting = send(await openConnection(leaderUrl), `${path}/acquire`, { owner: 'gone', ttlMs: TTL_MS, waitMs: 30_000, requestId: `gone-${i}` });
      await waitFor('the waiter queued', async () => ((await httpJson(`${leaderUrl}${path}`)).body.waiters === 1 ? true : undefined));
      const releasing = await openConnection(leaderUrl);
      const release = send(releasing, `${path}/release`, { owner: 'holder', token: holder.body.token });
      waiting.socket.destroy();
      // Nothing of the answer had reached the waiting client: the grant, if any, was not delivered.
      expect(waiting.received).toBe(0);
      expect(await release.answer).toMatch(/^HTTP\/1\.1 200/);
      const startedMs = Date.now();
      try {
        await waitFor(
          `${path} free again`,
          async () => {
            const v = (await httpJson(`${leaderUrl}${path}`)).body as { holders: unknown[]; waiters: number };
            return v.holders.length === 0 && v.waiters === 0 ? true : undefined;
          },
          FREE_WITHIN_MS,
        );
      } catch (err) {
        // Undoing the grant is the job of the leader that saw the connection close. If that member lost its
        // leadership meanwhile (a loaded machine can starve its heartbeats), the grant is held until its TTL, as
        // documented: such a round proves nothing either way and is not counted. Any other timeout fails the test.
        if ((await leaderTerm().catch(() => null)) === termBefore) throw err;
        deposedRounds++;
        leaderUrl = cluster.node(await waitForLeader(cluster)).httpUrl;
        continue;
      }
      expect(Date.now() - startedMs).toBeLessThan(FREE_WITHIN_MS);
      // The retry of the gone request learns how its acquire ended: cancelled, as a waiter or as an undone grant.
      const retry = await post(`${path}/acquire`, { owner: 'gone', ttlMs: TTL_MS, waitMs: 30_000, requestId: `gone-${i}` });
      expect([retry.status, retry.body.reason]).toEqual([409, 'cancelled']);
      undone += (await grantsUndone()) - undoneBefore;
    }
    expect(undone, `grants undone in ${rounds} rounds (${deposedRounds} not counted: the leader changed)`).toBeGreaterThanOrEqual(UNDONE_WANTED);
    expect(deposedRounds, 'rounds lost to a leader change').toBeLessThanOrEqual(ROUNDS_MAX / 2);
  });
});
