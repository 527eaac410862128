import { describe, expect, it } from 'vitest';
import { LockService } from '../../src/node/lock-service.js';
import type { CommandResult } from '../../src/locks/index.js';
import { quietCluster } from './quiet-cluster.js';

/** A state machine bug: the lease table throws while applying the first lock command. */
class ThrowsOnApply extends LockService {
  override applyEntry(data: Uint8Array, index: number): CommandResult {
    throw new Error(`apply bug at index ${index} (${data.length} bytes)`);
  }
}

/**
 * A throw while applying a committed entry must reach the host's fatal path (onFatal, the loop stopped), not escape
 * from a scheduler callback: entries are applied from the Ready loop's wake-up, and that wake-up is guarded.
 */
describe('RaftHost: a throw while applying is fatal', () => {
  it('reports the throw through onFatal and stops the member', () => {
    const cluster = quietCluster({ createLockService: (o) => new ThrowsOnApply(o) });
    cluster.runUntil(2_000, () => cluster.leader() !== null);
    const leader = cluster.leader();
    expect(leader).not.toBeNull();
    const answers: (Error | null)[] = [];
    cluster.submit(leader!, { type: 'createSession', sessionId: 's1', owner: 'o', ttlMs: 5_000 }, (err) => answers.push(err));
    expect(() => cluster.runUntil(4_000)).toThrow(/apply bug at index/);
    // It came through onFatal: an exception escaping a scheduler callback would leave this unset.
    expect(cluster.fatalError).toBeInstanceOf(Error);
    expect((cluster.fatalError as Error).message).toMatch(/apply bug at index/);
  });
});
