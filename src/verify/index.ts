/**
 * The history checkers of `raftlock verify`: linearizability of the lock service
 * (per lock name, against a lease-aware model), fencing, no lost acknowledgements,
 * and availability. Everything here is pure except history-jsonl's file helpers.
 */
export * from './history.js';
export * from './history-jsonl.js';
export * from './model.js';
export * from './linearizability.js';
export * from './lock-model.js';
export * from './fencing-checker.js';
export * from './availability.js';
export * from './no-lost-ack.js';
