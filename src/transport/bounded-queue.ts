/**
 * BoundedQueue is a FIFO with a cap on both item count and (estimated) bytes.
 * When full it drops the OLDEST items: Raft tolerates message loss (every RPC
 * is retried by the sender's own timers, Raft §5.1), and the newest messages
 * carry the freshest terms and commit indexes, so they are the ones worth
 * keeping when a peer is slow or down.
 */
import { assert } from '../raft/invariant.js';

export class BoundedQueue<T> {
  private items: (T | undefined)[] = [];
  private sizes: number[] = [];
  private head = 0;
  private totalBytes = 0;
  private droppedTotal = 0;

  constructor(
    readonly maxItems: number,
    readonly maxBytes: number,
  ) {
    assert(Number.isSafeInteger(maxItems) && maxItems > 0, `maxItems must be a positive integer, got ${maxItems}`);
    assert(Number.isSafeInteger(maxBytes) && maxBytes > 0, `maxBytes must be a positive integer, got ${maxBytes}`);
  }

  /** length is the number of queued items. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** bytes is the sum of the queued items' sizes. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** dropped counts items ever discarded by overflow or clear(). */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** push appends `item`, dropping the oldest items as needed; an item bigger than maxBytes alone is itself dropped. Returns how many items were dropped. */
  push(item: T, bytes: number): number {
    assert(Number.isSafeInteger(bytes) && bytes >= 0, `item size must be a non-negative integer, got ${bytes}`);
    if (bytes > this.maxBytes) {
      this.droppedTotal += 1;
      return 1;
    }
    let dropped = 0;
    // Bounded: each iteration removes one of the at most maxItems queued items.
    while (this.length > 0 && (this.length + 1 > this.maxItems || this.totalBytes + bytes > this.maxBytes)) {
      this.shift();
      dropped += 1;
    }
    this.items.push(item);
    this.sizes.push(bytes);
    this.totalBytes += bytes;
    this.droppedTotal += dropped;
    assert(this.length <= this.maxItems && this.totalBytes <= this.maxBytes, 'queue bounds violated');
    return dropped;
  }

  /** peekBytes is the size of the oldest item, or null when empty. */
  peekBytes(): number | null {
    return this.length > 0 ? this.sizes[this.head]! : null;
  }

  /** shift removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined; // let the message be collected
    this.totalBytes -= this.sizes[this.head]!;
    this.head += 1;
    if (this.head === this.items.length) {
      this.items = [];
      this.sizes = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      // Compact occasionally so the backing arrays do not grow without bound.
      this.items = this.items.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** clear drops everything (counted as dropped) and returns how many items it dropped. */
  clear(): number {
    const n = this.length;
    this.items = [];
    this.sizes = [];
    this.head = 0;
    this.totalBytes = 0;
    this.droppedTotal += n;
    return n;
  }
}
