/**
 * ObservedTransport lets a member watch the Raft messages it sends and
 * receives without touching the host or the core: what a campaign sends says
 * why an election started (election-counter.ts), and what a leader sends says
 * whether its log contradicts entries this member holds as committed
 * (divergence-check.ts). Observers only read; they never drop or change a
 * message.
 */
import type { Message } from '../raft/index.js';
import type { MemberRecord } from '../raft/index.js';
import type { HostTransport, TransportHandlers } from './host-io.js';

/** TransportObserver sees messages on their way out (before the transport queues them) and in (before the core steps them). */
export interface TransportObserver {
  onSend?(messages: readonly Message[]): void;
  onReceive?(message: Message): void;
}

/** ObservedTransport is a HostTransport that shows every message to its observers, then passes it on unchanged. */
export class ObservedTransport implements HostTransport {
  constructor(
    private readonly inner: HostTransport,
    private readonly observers: readonly TransportObserver[],
  ) {}

  bind(handlers: TransportHandlers): void {
    this.inner.bind({
      ...handlers,
      onMessage: (m) => {
        // Before the step: an observer compares the message with the state it arrives at.
        for (const o of this.observers) o.onReceive?.(m);
        handlers.onMessage(m);
      },
    });
  }

  open(): Promise<{ port: number }> {
    return this.inner.open();
  }

  send(messages: readonly Message[]): void {
    for (const o of this.observers) o.onSend?.(messages);
    this.inner.send(messages);
  }

  flush(): void {
    this.inner.flush();
  }

  setPeers(members: readonly MemberRecord[]): void {
    this.inner.setPeers(members);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
