import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../src/raft/index.js';
import { ScriptedCluster, enc } from './harness.js';

/** Membership rules (thesis §4.1, learner promotion as in etcd-io/raft) at the edges the membership tests leave open. */

const ABC: NodeId[] = ['a', 'b', 'c'];

describe('learner promotion at the edges', () => {
  it('a learner exactly maxPromoteLagEntries behind may be promoted: the bound is inclusive', () => {
    const c = new ScriptedCluster(ABC, { maxPromoteLagEntries: 3 });
    c.elect('a');
    const a = c.node('a');
    c.join('d');
    expect(a.proposeConfChange({ type: 'addLearner', id: 'd', peerAddress: 'd.example:7000', httpUrl: 'http://d.example:8080' }).ok).toBe(true);
    c.deliverAll();
    expect(a.progressOf('d')!.match).toBe(a.lastIndex); // caught up, configuration committed everywhere
    c.isolate('d');
    for (let i = 0; i < 3; i++) a.propose(enc(`x${i}`));
    c.deliverAll();
    expect(a.lastIndex - a.progressOf('d')!.match).toBe(3);
    expect(a.proposeConfChange({ type: 'promote', id: 'd' })).toMatchObject({ ok: true });
  });
});
