import type { ConfState, Entry, NodeId, Ready, Snapshot } from '../../src/raft/types.js';
import { isKnownConfig, votersMoved, type RaftNode } from '../../src/raft/index.js';
import { violated } from './sim-violation.js';

/** configKey names a configuration's whole content (voters, learners, records), for comparisons. */
export function configKey(c: ConfState): string {
  const records = c.members.map((m) => `${m.id}@${m.peerAddress}@${m.httpUrl}`);
  return `voters ${c.voters.join(',')} learners ${c.learners.join(',')} records ${records.join(',')}`;
}

/**
 * MembershipChecker checks the rules of single-server membership change (thesis §4.1) on every log, every event:
 * - config-step: consecutive configurations in any log differ by at most one voter, so no two configurations in
 *   effect next to each other can have disjoint majorities;
 * - config-one-uncommitted: a leader's log never holds two uncommitted configuration entries (one change at a time);
 * - snapshot-config: a snapshot carries the configuration of the applied history at its index.
 * It also keeps that history (the configuration in force at each applied index), which the commit-safety and
 * durability checks use to count majorities of the right configuration.
 */
export class MembershipChecker {
  /** The applied history's configurations: the bootstrap one at 0, then each config entry's, first applied anywhere. */
  private readonly history: { readonly index: number; readonly config: ConfState }[];
  readonly stats = { configChangesApplied: 0, learnersAdded: 0, promotions: 0, votersRemoved: 0 };

  constructor(bootstrap: ConfState) {
    this.history = [{ index: 0, config: bootstrap }];
  }

  /** configAt is the configuration in force at `index` of the applied history. */
  configAt(index: number): ConfState {
    for (let i = this.history.length - 1; i >= 0; i--) if (this.history[i]!.index <= index) return this.history[i]!.config;
    throw new Error(`checker: no configuration at ${index}`);
  }

  /** onFirstApply records a config entry applied for the first time anywhere (State Machine Safety holds it there). */
  onFirstApply(e: Entry): void {
    if (e.type !== 'config') return;
    const before = this.history[this.history.length - 1]!.config;
    const after = e.config!;
    this.stats.configChangesApplied++;
    if (after.learners.some((id) => !before.learners.includes(id) && !before.voters.includes(id))) this.stats.learnersAdded++;
    if (after.voters.some((id) => !before.voters.includes(id))) this.stats.promotions++;
    if (before.voters.some((id) => !after.voters.includes(id))) this.stats.votersRemoved++;
    this.history.push({ index: e.index, config: after });
  }

  /** onReady checks the config entries a node is about to persist: its log has them already. */
  onReady(id: NodeId, node: RaftNode, rd: Ready): void {
    for (const e of rd.entries) if (e.type === 'config') this.checkConfigEntry(id, node, e, rd.softState.role === 'leader');
  }

  private checkConfigEntry(id: NodeId, node: RaftNode, e: Entry, leading: boolean): void {
    const before = node.configurationAt(e.index - 1);
    // A joining member replaying the log knows no configuration before its first config entry; it never uses one there.
    if (isKnownConfig(before) && votersMoved(before, e.config!) > 1) {
      violated('config-step', `${id} has config entry ${e.index} (${configKey(e.config!)}) right after ${configKey(before)}: more than one voter moved`);
    }
    if (!leading) return;
    for (const other of node.entries(node.commitIndex + 1, e.index - 1)) {
      if (other.type === 'config') {
        violated('config-one-uncommitted', `leader ${id} appends config entry ${e.index} while config entry ${other.index} is uncommitted (commit ${node.commitIndex})`);
      }
    }
  }

  /** checkSnapshot: a snapshot (of applied state, so at an index the history reaches) carries the configuration there. */
  checkSnapshot(id: NodeId, snapshot: Snapshot, how: string): void {
    const { index, config } = snapshot.meta;
    if (index === 0) return;
    const expected = this.configAt(index);
    if (configKey(config) !== configKey(expected)) {
      violated('snapshot-config', `${id} ${how} a snapshot at ${index} with configuration ${configKey(config)}, but ${configKey(expected)} is in force there`);
    }
  }
}
