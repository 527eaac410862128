import type { ConfChange, ConfState, NodeId, SeededRandom } from '../../src/raft/index.js';
import { ConfChangeRefusedError } from '../../src/node/errors.js';
import type { SimCluster } from './cluster.js';

/** Refusals that cannot pass with time: the change does not fit the configuration. */
const PERMANENT: ReadonlySet<string> = new Set(['unknown_member', 'already_member', 'not_learner', 'last_voter']);

/** MembershipProfile is how often and how the operator changes the membership, and the nemesis that goes with it. */
export interface MembershipProfile {
  /** Gap between two changes the operator starts. */
  readonly gapMs: readonly [number, number];
  /** How soon, and how many times, the operator retries a change the leader refused for a passing reason. */
  readonly retryMs: readonly [number, number];
  readonly maxRetries: number;
  /** Probability that removing a voter removes the leader. */
  readonly removeLeaderProbability: number;
  /** Probability that a step proposes a second change while one is pending. */
  readonly concurrentProbability: number;
  /** The voter count stays within the starting count ± this (at least 2). */
  readonly voterSlack: number;
  /** Probability that a leader is isolated right after it accepted a change (before it commits). */
  readonly isolateAfterChangeProbability: number;
}

/** MembershipPlan bounds what the operator does to the cluster. */
interface MembershipPlan {
  /** Members that may join, in order; each starts with an empty store when first added, and is never added twice. */
  readonly spares: readonly NodeId[];
  /** The voter count stays within [minVoters, maxVoters]. */
  readonly minVoters: number;
  readonly maxVoters: number;
  /** Probability that a voter removal removes the leader itself (thesis §4.2.2). */
  readonly removeLeaderProbability: number;
  /** Probability that a step proposes a fresh change even while the last one is pending (a second operator). */
  readonly concurrentProbability: number;
  /** A refused change is retried this many times before the operator picks another. */
  readonly maxRetries: number;
  /**
   * Called when a leader accepted a change (it is in its log, not yet committed); returns whether it disrupted that
   * leader (a nemesis: the thesis's hard cases start with a leader lost in the middle of a change). The operator
   * then picks its next change afresh, for the next leader.
   */
  readonly afterAccepted: (leader: NodeId) => boolean;
}

function pick<T>(r: SeededRandom, items: readonly T[]): T {
  if (items.length === 0) throw new Error('pick from empty list');
  return items[r.nextInt(items.length)]!;
}

/**
 * MembershipWorkload is the operator of the simulated cluster: it grows it (a spare joins as a learner and is
 * promoted once caught up), shrinks it (removing a voter, sometimes the leader, or a learner), and retries a change
 * the leader refused for a passing reason (no leader, own-term entry not committed, a change in progress, a learner
 * not caught up) every few ms, as an operator script would. Now and then a second operator proposes a change while
 * the first is pending, which the one-change-at-a-time rule must refuse.
 */
export class MembershipWorkload {
  private intent: ConfChange | null = null;
  private retries = 0;
  /** Members removed (or being removed): never added again, as a member id is bound to its store. */
  private readonly retired = new Set<NodeId>();
  readonly stats = { confChangesApplied: 0, confChangesRefused: 0 };

  constructor(
    private readonly cluster: SimCluster,
    private readonly r: SeededRandom,
    private readonly plan: MembershipPlan,
  ) {}

  /** step proposes the pending change (or a new one) to the leader; returns whether a change is still wanted (retry soon). */
  step(): boolean {
    const leader = this.cluster.leader();
    if (leader === null) return true;
    const config = this.cluster.configurationOf(leader)!;
    // A second operator may have removed the member this one is still trying to add: never add a retired id again.
    if (this.intent?.type === 'addLearner' && this.retired.has(this.intent.id)) this.intent = null;
    const concurrent = this.intent !== null && this.r.next() < this.plan.concurrentProbability;
    if (this.intent === null || concurrent || ++this.retries > this.plan.maxRetries) {
      const change = this.choose(config, leader);
      if (!concurrent) {
        this.intent = change;
        this.retries = 0;
      }
      if (change === null) return false;
      this.propose(leader, change);
      return true;
    }
    this.propose(leader, this.intent);
    return true;
  }

  private propose(leader: NodeId, change: ConfChange): void {
    if (change.type === 'addLearner' && !this.cluster.ids.includes(change.id)) this.cluster.join(change.id);
    if (change.type === 'remove') this.retired.add(change.id);
    const accepted = this.cluster.proposeConfChange(leader, change, (err) => {
      if (err === null) this.stats.confChangesApplied++;
      else this.stats.confChangesRefused++;
      const settled = err === null || (err instanceof ConfChangeRefusedError && PERMANENT.has(err.reason));
      if (settled && this.intent === change) this.intent = null;
    });
    if (accepted && this.plan.afterAccepted(leader)) this.intent = null;
  }

  /** choose picks a change that fits the leader's configuration and the plan's bounds, or null. */
  private choose(config: ConfState, leader: NodeId): ConfChange | null {
    const { spares, minVoters, maxVoters } = this.plan;
    const voters = config.voters.length;
    const options: ConfChange[] = [];
    for (const id of config.learners) {
      if (voters < maxVoters) options.push({ type: 'promote', id }, { type: 'promote', id });
      options.push({ type: 'remove', id });
    }
    const spare = spares.find((id) => !this.retired.has(id) && !config.voters.includes(id) && !config.learners.includes(id));
    if (config.learners.length === 0 && spare !== undefined && voters < maxVoters) {
      options.push({ type: 'addLearner', id: spare, peerAddress: `${spare}.sim:7000`, httpUrl: `http://${spare}.sim:8080` });
    }
    if (voters > minVoters) {
      const others = config.voters.filter((id) => id !== leader);
      const removeLeader = config.voters.includes(leader) && this.r.next() < this.plan.removeLeaderProbability;
      options.push({ type: 'remove', id: removeLeader || others.length === 0 ? leader : pick(this.r, others) });
    }
    return options.length === 0 ? null : pick(this.r, options);
  }
}

function between(r: SeededRandom, range: readonly [number, number]): number {
  return range[0] + r.nextInt(range[1] - range[0] + 1);
}

/**
 * scheduleMembership starts the operator on a cluster of `members.ids` with `members.spareIds` to add, and plants its
 * steps until the end of the safety phase: a new change every gapMs, a refused one retried every retryMs.
 */
export function scheduleMembership(
  cluster: SimCluster,
  r: SeededRandom,
  profile: MembershipProfile,
  members: { readonly ids: readonly NodeId[]; readonly spareIds: readonly NodeId[] },
  safetyMs: number,
): MembershipWorkload {
  const workload = new MembershipWorkload(cluster, r, {
    spares: members.spareIds,
    minVoters: Math.max(2, members.ids.length - profile.voterSlack),
    maxVoters: members.ids.length + profile.voterSlack,
    removeLeaderProbability: profile.removeLeaderProbability,
    concurrentProbability: profile.concurrentProbability,
    maxRetries: profile.maxRetries,
    afterAccepted: (leader) => {
      if (r.next() >= profile.isolateAfterChangeProbability) return false;
      cluster.network.restoreLinks();
      cluster.network.isolate(leader);
      cluster.note(`fault isolate ${leader} right after it accepted a membership change`);
      return true;
    },
  });
  const next = (atMs: number): void => {
    if (atMs >= safetyMs) return;
    cluster.at(atMs, 'membership', () => {
      const pending = workload.step();
      next(cluster.nowMs + between(r, pending ? profile.retryMs : profile.gapMs));
    });
  };
  next(between(r, profile.gapMs));
  return workload;
}
