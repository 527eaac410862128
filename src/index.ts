/** raftlock's package entry: the client library (`import { RaftLockClient } from 'raftlock'`). */
export * from './client/index.js';
