import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster, waitForLeader } from '../support/process-cluster.js';

/**
 * The lock names "." and ".." are refused (src/api/contract.ts): as URL path
 * segments they would be resolved away by clients and proxies, so
 * `/v1/locks/../acquire` could reach another route. Against a real 3-node
 * cluster, on the leader and on a follower. Requests go out through
 * node:http, which sends the path as written: fetch would resolve the dot
 * segments (also percent-encoded ones) before sending.
 */

let cluster: ProcessCluster;
let urls: string[];

beforeAll(async () => {
  cluster = await ProcessCluster.create({ nodes: 3 });
  cluster.startAll();
  const leader = await waitForLeader(cluster);
  urls = [cluster.node(leader).httpUrl, cluster.nodes.find((n) => n.id !== leader)!.httpUrl];
});

afterAll(async () => {
  await cluster?.stop();
});

/** rawJson sends `path` byte for byte (no dot-segment resolution) and parses the JSON answer. */
function rawJson(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, method, path, headers: body === undefined ? {} : { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('the lock names "." and ".."', () => {
  const routes: Array<[string, (segment: string) => string, unknown]> = [
    ['POST', (s) => `/v1/locks/${s}/acquire`, { owner: 'a', ttlMs: 1_000 }],
    ['POST', (s) => `/v1/locks/${s}/release`, { owner: 'a', token: 1 }],
    ['POST', (s) => `/v1/locks/${s}/renew`, { owner: 'a', token: 1 }],
    ['POST', (s) => `/v1/locks/${s}/check`, { token: 1 }],
    ['GET', (s) => `/v1/locks/${s}`, undefined],
    ['DELETE', (s) => `/v1/locks/${s}`, undefined],
    ['GET', (s) => `/v1/locks?after=${s}`, undefined],
  ];
  const segments = ['.', '..', '%2E', '%2e%2E'];

  for (const [method, path, body] of routes) {
    it(`are a 400 bad_request on ${method} ${path(':name')}`, async () => {
      for (const url of urls) {
        for (const segment of segments) {
          const res = await rawJson(url, method, path(segment), body);
          expect(res.status, `${url} ${method} ${path(segment)}: ${JSON.stringify(res.body)}`).toBe(400);
          expect(res.body.error).toBe('bad_request');
          expect(typeof res.body.message).toBe('string');
        }
      }
    });
  }

  it('while names that only contain dots among other characters are fine', async () => {
    for (const name of ['...', '.a', 'a.', '..b', 'a..b', 'x/..']) {
      const path = `/v1/locks/${encodeURIComponent(name)}`;
      const acquired = await rawJson(urls[1]!, 'POST', `${path}/acquire`, { owner: 'dots', ttlMs: 30_000 });
      expect(acquired.status, `${name}: ${JSON.stringify(acquired.body)}`).toBe(200);
      expect(acquired.body.name).toBe(name);
      const view = await rawJson(urls[0]!, 'GET', path);
      expect(view.body.holders.map((h: { owner: string }) => h.owner)).toEqual(['dots']);
      expect((await rawJson(urls[1]!, 'POST', `${path}/release`, { owner: 'dots', token: acquired.body.token })).status).toBe(200);
    }
  });
});
