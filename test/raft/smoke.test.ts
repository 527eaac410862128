import { describe, expect, it } from 'vitest';
import { ScriptedCluster, dec, enc } from './harness.js';

describe('smoke', () => {
  it('elects a leader and replicates proposals in a 3-node cluster', () => {
    const c = new ScriptedCluster(['a', 'b', 'c']);
    c.elect('a');
    const r = c.node('a').propose(enc('x'));
    expect(r.ok).toBe(true);
    c.deliverAll();
    for (const id of c.ids) {
      expect(c.applied.get(id)!.filter((e) => e.data.length > 0).map((e) => dec(e.data))).toEqual(['x']);
    }
  });
});
