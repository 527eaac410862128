/**
 * FencedCounter is a toy resource server in the style Kleppmann and Chubby
 * describe: it remembers the highest fencing token it has seen per resource
 * and rejects any write carrying an older one, so a client whose lock was
 * lost (paused, partitioned, expired) cannot overwrite newer work.
 */
export class FencedCounter {
  private readonly highestToken = new Map<string, number>();
  private readonly values = new Map<string, number>();
  accepted = 0;
  rejected = 0;

  constructor(initial: Record<string, number> = {}) {
    for (const [k, v] of Object.entries(initial)) this.values.set(k, v);
  }

  read(key: string): number {
    return this.values.get(key) ?? 0;
  }

  /** write stores `value` if `token` is at least the highest token seen for `key`; returns whether it was accepted. */
  write(key: string, value: number, token: number): boolean {
    const highest = this.highestToken.get(key) ?? 0;
    if (token < highest) {
      this.rejected++;
      return false;
    }
    this.highestToken.set(key, token);
    this.values.set(key, value);
    this.accepted++;
    return true;
  }
}
