import { describe, expect, it } from 'vitest';
import { DivergenceCheck } from '../../src/node/divergence-check.js';
import { MEMBER_PROBLEM_REASONS, MemberHealth } from '../../src/node/member-health.js';
import { PeerRefusalTap } from '../../src/node/peer-refusal-tap.js';
import type { ConfState } from '../../src/raft/index.js';

function setup(voters: string[], learners: string[] = []) {
  const logged: string[] = [];
  const logger = { info: (_o: object, m?: string) => logged.push(`info ${m}`), warn() {}, error: (_o: object, m?: string) => logged.push(`error ${m}`), debug() {} };
  const refusals = new PeerRefusalTap(() => 0);
  const divergence = new DivergenceCheck({ term: 2, commitIndex: 1, termAt: () => 1 }, logger);
  let current: ConfState = { voters, learners, members: [] };
  const health = new MemberHealth({ id: 'n3', clusterId: 'c-1', configuration: () => current, divergence, refusals, logger });
  const refuse = (peer: string): void => refusals.logger(logger).warn({ peer, reason: 'cluster_mismatch' }, 'peer refused our handshake');
  return { health, divergence, refuse, logged, setMembers: (m: string[]) => (current = { voters: m, learners: [], members: [] }) };
}

describe('MemberHealth', () => {
  it('is fine as a member of its configuration', () => {
    expect(setup(['n1', 'n2', 'n3']).health.problems()).toEqual([]);
  });

  it('is fine as a learner, and says a joining member that knows no configuration yet is joining', () => {
    expect(setup(['n1', 'n2'], ['n3']).health.problems()).toEqual([]);
    expect(setup([]).health.problems()).toEqual([{ reason: 'joining', message: expect.stringMatching(/knows no configuration yet/) }]);
  });

  it('says the member was removed, and logs it once when it appears and once when it clears', () => {
    const s = setup(['n1', 'n2']);
    expect(s.health.problems().map((p) => p.reason)).toEqual(['removed']);
    s.health.problems();
    s.setMembers(['n1', 'n2', 'n3']);
    expect(s.health.problems()).toEqual([]);
    expect(s.logged).toEqual([expect.stringMatching(/^error member problem: this member \(n3\) is not in/), 'info member problem cleared']);
  });

  it('says the member diverged once its leader contradicted a committed entry', () => {
    const s = setup(['n1', 'n2', 'n3']);
    s.divergence.onReceive({ type: 'append', from: 'n1', to: 'n3', term: 2, prevLogIndex: 1, prevLogTerm: 2, entries: [], commit: 1 });
    expect(s.health.problems()).toEqual([{ reason: 'diverged', message: expect.stringMatching(/leader n1 holds term 2 at index 1/) }]);
  });

  it('says the peers reject its cluster id only when most of them do', () => {
    const s = setup(['n1', 'n2', 'n3']);
    s.refuse('n1');
    expect(s.health.problems()).toEqual([]);
    s.refuse('n2');
    expect(s.health.problems().map((p) => p.reason)).toEqual(['cluster_id_rejected']);
  });
});

describe('MemberHealth details an operator relies on', () => {
  it('logs a problem with its reason when it appears, nothing while it lasts, and its reason when it clears', () => {
    const logged: { level: string; obj: object }[] = [];
    const at = (level: string) => (obj: object) => logged.push({ level, obj });
    const refusals = new PeerRefusalTap(() => 0);
    const divergence = new DivergenceCheck({ term: 2, commitIndex: 1, termAt: () => 1 }, { info() {}, warn() {}, error() {}, debug() {} });
    let voters = ['n1', 'n2'];
    const logger = { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
    const health = new MemberHealth({ id: 'n3', clusterId: 'c-1', configuration: () => ({ voters, learners: [], members: [] }), divergence, refusals, logger });
    health.problems();
    expect(logged).toEqual([{ level: 'error', obj: { problem: 'removed' } }]);
    health.problems();
    expect(logged).toHaveLength(1);
    voters = ['n1', 'n2', 'n3'];
    health.problems();
    expect(logged).toEqual([
      { level: 'error', obj: { problem: 'removed' } },
      { level: 'info', obj: { problem: 'removed' } },
    ]);
  });

  it('names the configuration a removed member is missing from, and the peers that refuse its cluster id', () => {
    const s = setup(['n1', 'n2']);
    expect(s.health.problems()).toEqual([{ reason: 'removed', message: "this member (n3) is not in the cluster's configuration (n1, n2): it was removed" }]);
    const t = setup(['n1', 'n2', 'n3']);
    t.refuse('n1');
    t.refuse('n2');
    expect(t.health.problems()).toEqual([
      {
        reason: 'cluster_id_rejected',
        message: "peers n1, n2 refuse this member: they belong to another cluster than c-1 (its store's); was this data dir bootstrapped again?",
      },
    ]);
  });

  it('counts only refusals by current members, and this member is not its own peer: one of one peer refusing is most', () => {
    const s = setup(['n1', 'n2', 'n3']);
    s.refuse('n1');
    s.refuse('n9'); // not a member (removed, or another cluster's node): its refusal says nothing about this cluster
    expect(s.health.problems()).toEqual([]);
    const pair = setup(['n1', 'n3']);
    pair.refuse('n1');
    expect(pair.health.problems().map((p) => p.reason)).toEqual(['cluster_id_rejected']);
  });

  it('lists every reason a problem can have, for the metric with one series each', () => {
    const seen = new Set<string>();
    const note = (s: { health: MemberHealth }) => s.health.problems().forEach((p) => seen.add(p.reason));
    note(setup([]));
    note(setup(['n1', 'n2']));
    const diverged = setup(['n1', 'n2', 'n3']);
    diverged.divergence.onReceive({ type: 'append', from: 'n1', to: 'n3', term: 2, prevLogIndex: 1, prevLogTerm: 2, entries: [], commit: 1 });
    diverged.refuse('n1');
    diverged.refuse('n2');
    note(diverged);
    expect([...MEMBER_PROBLEM_REASONS].sort()).toEqual([...seen].sort());
    expect(MEMBER_PROBLEM_REASONS).toHaveLength(4);
  });
});
