import { describe, expect, it } from 'vitest';
import { DivergenceCheck } from '../../src/node/divergence-check.js';
import { MemberHealth } from '../../src/node/member-health.js';
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
