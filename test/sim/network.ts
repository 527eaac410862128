import type { NodeId } from '../../src/raft/types.js';
import type { SeededRandom } from '../../src/raft/index.js';

/** NetworkOptions are the per-schedule message delay bounds (virtual ms). */
export interface NetworkOptions {
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * SimNetwork decides the fate of each message: dropped, delivered once after a
 * random delay, or delivered twice (duplicated). Reordering falls out of the
 * independent random delays. Partitions are a directed link matrix, so a link
 * can be cut one way only (A hears B, B does not hear A), which is the case
 * that breaks naive leader leases and makes PreVote / CheckQuorum matter
 * (thesis §9.6, §6.2).
 *
 * Links are checked at delivery time, so a partition also cuts messages that
 * are already in flight.
 */
export class SimNetwork {
  /** Probability that a message is lost. */
  dropProbability = 0;
  /** Probability that a message is delivered a second time (independent delay). */
  duplicateProbability = 0;
  private readonly index = new Map<NodeId, number>();
  /** cut[from][to] true means messages from -> to are lost. */
  private readonly cut: boolean[][];

  constructor(
    readonly ids: readonly NodeId[],
    private readonly random: SeededRandom,
    private readonly options: NetworkOptions,
  ) {
    if (options.minDelayMs < 0 || options.maxDelayMs < options.minDelayMs) throw new Error('bad delay bounds');
    ids.forEach((id, i) => this.index.set(id, i));
    this.cut = ids.map(() => ids.map(() => false));
  }

  private at(id: NodeId): number {
    const i = this.index.get(id);
    if (i === undefined) throw new Error(`unknown node ${id}`);
    return i;
  }

  /** linkUp is true when a message sent from `from` to `to` can arrive now. */
  linkUp(from: NodeId, to: NodeId): boolean {
    return !this.cut[this.at(from)]![this.at(to)]!;
  }

  /** setLink cuts or restores the directed link from -> to. */
  setLink(from: NodeId, to: NodeId, up: boolean): void {
    if (from === to) return;
    this.cut[this.at(from)]![this.at(to)] = !up;
  }

  /** healAll restores every link and stops drops and duplicates. */
  healAll(): void {
    for (const row of this.cut) row.fill(false);
    this.dropProbability = 0;
    this.duplicateProbability = 0;
  }

  /** restoreLinks restores every link but keeps the drop / duplicate rates. */
  restoreLinks(): void {
    for (const row of this.cut) row.fill(false);
  }

  /** partition splits the nodes into groups: links inside a group are up, links across groups are cut (both ways). */
  partition(groups: readonly (readonly NodeId[])[]): void {
    const group = new Map<NodeId, number>();
    groups.forEach((g, gi) => g.forEach((id) => group.set(id, gi)));
    for (const a of this.ids) {
      for (const b of this.ids) {
        if (a === b) continue;
        const ga = group.get(a);
        const gb = group.get(b);
        this.setLink(a, b, ga !== undefined && ga === gb);
      }
    }
  }

  /** isolate cuts every link to and from `id`. */
  isolate(id: NodeId): void {
    for (const other of this.ids) {
      this.setLink(id, other, false);
      this.setLink(other, id, false);
    }
  }

  /** plan returns the delivery delays of one message: [] dropped, [d] once, [d1, d2] duplicated. */
  plan(): number[] {
    const r = this.random;
    if (this.dropProbability > 0 && r.next() < this.dropProbability) return [];
    const delays = [this.delay()];
    if (this.duplicateProbability > 0 && r.next() < this.duplicateProbability) delays.push(this.delay());
    return delays;
  }

  private delay(): number {
    const { minDelayMs, maxDelayMs } = this.options;
    return minDelayMs + this.random.nextInt(maxDelayMs - minDelayMs + 1);
  }

  /** describe renders the cut links, for traces. */
  describe(): string {
    const cuts: string[] = [];
    for (const a of this.ids) for (const b of this.ids) if (a !== b && !this.linkUp(a, b)) cuts.push(`${a}->${b}`);
    return `cut=[${cuts.join(' ')}] drop=${this.dropProbability.toFixed(2)} dup=${this.duplicateProbability.toFixed(2)}`;
  }
}
