import { afterEach, describe, expect, it } from 'vitest';
import { ProcessCluster, httpJson, metricValue, runCli, waitForLeader } from '../support/process-cluster.js';

/** `raftlock transfer-leader` and POST /v1/admin/transfer-leader against a real cluster. */

let cluster: ProcessCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe('transfer-leader', () => {
  it('hands leadership to the most caught-up member or the one named, from any member, and refuses a stranger', async () => {
    cluster = await ProcessCluster.create({ nodes: 3 });
    cluster.startAll();
    const first = await waitForLeader(cluster);
    const follower = cluster.nodes.find((n) => n.id !== first)!;

    // Asked of a follower: it relays to the leader.
    const moved = await runCli(['transfer-leader', '--endpoints', follower.httpUrl]);
    expect(moved.code).toBe(0);
    expect(moved.output).toMatch(new RegExp(`^leadership moved from ${first} to (n\\d) \\(term \\d+\\)\\n$`));
    const second = /to (n\d)/.exec(moved.output)![1]!;
    expect(second).not.toBe(first);
    expect(await waitForLeader(cluster)).toBe(second);
    expect(await metricValue(cluster.node(second).httpUrl, 'raftlock_elections_total{cause="transfer"}')).toBe(1);

    const named = await runCli(['transfer-leader', '--to', first, '--endpoints', cluster.endpoints().join(',')]);
    expect(named.code).toBe(0);
    expect(named.output).toContain(`leadership moved from ${second} to ${first}`);
    expect(await waitForLeader(cluster)).toBe(first);

    const already = await runCli(['transfer-leader', '--to', first, '--endpoints', cluster.endpoints().join(',')]);
    expect([already.code, already.output]).toEqual([0, `${first} already leads (term ${(await httpJson(`${cluster.node(first).httpUrl}/v1/status`)).body.term})\n`]);

    const stranger = await runCli(['transfer-leader', '--to', 'n9', '--endpoints', cluster.endpoints().join(',')]);
    expect(stranger.code).toBe(1);
    expect(stranger.output).toContain('n9 is not a voting member (members: n1, n2, n3)');
    const bad = await httpJson(`${follower.httpUrl}/v1/admin/transfer-leader`, 'POST', { to: 'not an id' });
    expect([bad.status, bad.body.error]).toEqual([400, 'bad_request']);
    const usage = await runCli(['transfer-leader', 'n2']);
    expect(usage.code).toBe(2);
  });
});
