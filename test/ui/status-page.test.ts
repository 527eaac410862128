import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster, httpJson, startedLeaderAndFollower, waitFor, type NodeProcess } from '../support/process-cluster.js';
import { writeTestAuth, type TestAuth } from '../support/test-auth.js';

/**
 * The status page (`GET /ui`) in a real browser: Debian's chromium, driven by
 * playwright-core, against a real 3-node cluster with authentication on. The
 * page is loaded from a follower; other clients take a lock and queue for it
 * through the other follower; the leader is killed (SIGKILL). Every check
 * waits for the DOM to change (a bounded poll), with generous bounds: the
 * page itself polls once a second. Screenshots go to test-output/ui/.
 */

/** The system browser: playwright-core never downloads one (.ci/run installs Debian's chromium). */
const CHROMIUM = '/usr/bin/chromium';
const REPO_ROOT = resolve(import.meta.dirname, import.meta.dirname.includes('/dist/test/') ? '../../..' : '../..');
const OUTPUT_DIR = join(REPO_ROOT, 'test-output', 'ui');
/** How long the page may take to show a change: a few of its 1 s polls on a loaded machine. */
const PAGE_SHOWS_MS = 15_000;
/** After a leader kill: an election (about a second here) plus the page's polls, with room for a loaded machine. */
const FAILOVER_SHOWN_MS = 30_000;
const LOCK = 'ui/build';
const PRINCIPALS = {
  admin: { principal: 'root', roles: ['admin'] },
  alice: { principal: 'alice', roles: ['locker'] },
  bob: { principal: 'bob', roles: ['locker'] },
  carol: { principal: 'carol', roles: ['locker'] },
} as const;

let dir: string;
let auth: TestAuth;
let cluster: ProcessCluster;
let browser: Browser;
let page: Page;
let leaderId: string;
let pageNode: NodeProcess;
let clientNode: NodeProcess;
const waiting: AbortController[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'raftlock-ui-'));
  mkdirSync(OUTPUT_DIR, { recursive: true });
  auth = writeTestAuth(dir, PRINCIPALS);
  cluster = await ProcessCluster.create({ nodes: 3, extraArgs: ['--auth-file', auth.file, '--secret', 'ui-test-cluster-secret'], token: auth.tokens['admin']! });
  const started = await startedLeaderAndFollower(cluster);
  leaderId = started.leaderId;
  pageNode = started.follower;
  clientNode = cluster.nodes.find((n) => n.id !== leaderId && n.id !== pageNode.id)!;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
});

afterAll(async () => {
  for (const c of waiting) c.abort();
  await browser?.close();
  await cluster?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** as sends a request to `node` with the token of test principal `who`. */
function as(who: keyof typeof PRINCIPALS, node: NodeProcess, method: string, path: string, body?: unknown, signal?: AbortSignal) {
  return fetch(`${node.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${auth.tokens[who]}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    ...(signal !== undefined ? { signal } : {}),
  });
}

/** queueFor starts a waiting acquire of LOCK by `who` (its long-poll stays open until the test ends). */
function queueFor(who: 'bob' | 'carol'): void {
  const controller = new AbortController();
  waiting.push(controller);
  as(who, clientNode, 'POST', `/v1/locks/${encodeURIComponent(LOCK)}/acquire`, { owner: 'worker', ttlMs: 60_000, waitMs: 120_000 }, controller.signal).catch(() => {});
}

/** ttlSeconds is the TTL a holder's countdown shows now. */
async function ttlSeconds(owner: string): Promise<number> {
  const text = await page.locator(`tr[data-lock="${LOCK}"] li[data-holder="${owner}"] .ttl`).textContent({ timeout: PAGE_SHOWS_MS });
  return Number.parseFloat(text ?? 'NaN');
}

describe('the status page in chromium', () => {
  it('is served open, and asks for a token before it shows anything', async () => {
    const res = await httpJson(`${pageNode.httpUrl}/ui`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'sha256-/);
    await page.goto(`${pageNode.httpUrl}/ui`);
    await page.locator('#members-error', { hasText: 'reader role' }).waitFor({ timeout: PAGE_SHOWS_MS });
    expect(await page.locator('tr[data-member]').count()).toBe(0);
  });

  it('shows every member, the leader and their indexes once given a token', async () => {
    await page.fill('#token', auth.tokens['admin']!);
    await page.click('#token-form button[type=submit]');
    await page.locator(`#leader[data-leader="${leaderId}"]`).waitFor({ state: 'attached', timeout: PAGE_SHOWS_MS });
    await page.locator(`tr[data-member="${leaderId}"][data-role="leader"][data-reachable="true"]`).waitFor({ timeout: PAGE_SHOWS_MS });
    for (const n of cluster.nodes.filter((m) => m.id !== leaderId)) {
      await page.locator(`tr[data-member="${n.id}"][data-role="follower"][data-reachable="true"]`).waitFor({ timeout: PAGE_SHOWS_MS });
    }
    expect(await page.textContent('#node')).toBe(pageNode.id);
    // The token lives in this tab's sessionStorage: a reload keeps it.
    await page.reload();
    await page.locator(`tr[data-member="${leaderId}"][data-role="leader"]`).waitFor({ timeout: PAGE_SHOWS_MS });
  });

  it('shows a lock taken by another client with its token, its TTL counting down, its waiters in order, sessions and expiries', async () => {
    const granted = await as('alice', clientNode, 'POST', `/v1/locks/${encodeURIComponent(LOCK)}/acquire`, { owner: 'deployer', ttlMs: 120_000 });
    expect(granted.status).toBe(200);
    const { token } = (await granted.json()) as { token: number };
    // An admin sees every principal's owners whole.
    await page.locator(`tr[data-lock="${LOCK}"] li[data-holder="alice/deployer"][data-token="${token}"]`).waitFor({ timeout: PAGE_SHOWS_MS });
    const first = await ttlSeconds('alice/deployer');
    expect(first).toBeGreaterThan(60);
    expect(first).toBeLessThanOrEqual(120);
    await waitFor('the TTL to count down', async () => ((await ttlSeconds('alice/deployer')) < first - 0.5 ? true : undefined), PAGE_SHOWS_MS);

    queueFor('bob');
    await page.locator(`tr[data-lock="${LOCK}"][data-waiters="1"] li[data-waiter="bob/worker"]`).waitFor({ timeout: PAGE_SHOWS_MS });
    queueFor('carol');
    await page.locator(`tr[data-lock="${LOCK}"][data-waiters="2"]`).waitFor({ timeout: PAGE_SHOWS_MS });
    const queue = page.locator(`tr[data-lock="${LOCK}"] li[data-waiter]`);
    expect([await queue.nth(0).getAttribute('data-waiter'), await queue.nth(1).getAttribute('data-waiter')]).toEqual(['bob/worker', 'carol/worker']);

    // A session and its lock, listed with the owner it was created for.
    const session = await as('alice', clientNode, 'POST', '/v1/sessions', { ttlMs: 60_000, owner: 'ci' });
    const { sessionId } = (await session.json()) as { sessionId: string };
    await page.locator(`tr[data-session="${sessionId}"]`, { hasText: 'alice/ci' }).waitFor({ timeout: PAGE_SHOWS_MS });

    // A short lease that nobody renews: its expiry shows in the recent events, and the lock leaves the list.
    const SHORT = 'ui/short-lease';
    expect((await as('alice', clientNode, 'POST', `/v1/locks/${encodeURIComponent(SHORT)}/acquire`, { owner: 'once', ttlMs: 1_500 })).status).toBe(200);
    await page.locator(`tr[data-lock="${SHORT}"]`).waitFor({ timeout: PAGE_SHOWS_MS });
    await page.locator('#events li[data-event="expiry"]', { hasText: 'expired 1 hold(s)' }).waitFor({ timeout: PAGE_SHOWS_MS });
    await page.locator(`tr[data-lock="${SHORT}"]`).waitFor({ state: 'detached', timeout: PAGE_SHOWS_MS });

    const shot = join(OUTPUT_DIR, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
  });

  it('shows a killed leader unreachable and the new leader within seconds, with the lock kept', async () => {
    await cluster.kill(leaderId, 'SIGKILL');
    await page.locator(`tr[data-member="${leaderId}"][data-reachable="false"]`).waitFor({ timeout: FAILOVER_SHOWN_MS });
    await page.locator(`tr[data-member][data-role="leader"][data-reachable="true"]`).waitFor({ timeout: FAILOVER_SHOWN_MS });
    const newLeader = await page.locator('tr[data-member][data-role="leader"]').getAttribute('data-member');
    expect(newLeader).not.toBe(leaderId);
    await page.locator(`#leader[data-leader="${newLeader}"]`).waitFor({ state: 'attached', timeout: FAILOVER_SHOWN_MS });
    await page.locator('#events li[data-event="leader"]', { hasText: `leader ${newLeader}` }).waitFor({ timeout: FAILOVER_SHOWN_MS });
    // The new leader answers the locks view: the lock is still alice's, under the same token.
    await page.locator(`#locks:not(.stale) tr[data-lock="${LOCK}"] li[data-holder="alice/deployer"]`).waitFor({ timeout: FAILOVER_SHOWN_MS });
    await page.screenshot({ path: join(OUTPUT_DIR, 'status-page-after-leader-kill.png'), fullPage: true });
  });
});
