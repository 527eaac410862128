import { describe, expect, it } from 'vitest';
import { RecentEvents } from '../../src/node/recent-events.js';

const NO_EXPIRY = { ok: true, holdsExpired: 0, sessionsExpired: 0, waitersTimedOut: 0 } as const;

describe('RecentEvents', () => {
  it('records each new leader and the start of an election once, newest first', () => {
    let nowMs = 1_000;
    const events = new RecentEvents(() => nowMs);
    events.noteSoftState({ role: 'follower', leader: 'n1', term: 1 });
    events.noteSoftState({ role: 'follower', leader: 'n1', term: 1 });
    nowMs = 2_000;
    events.noteSoftState({ role: 'candidate', leader: null, term: 2 });
    events.noteSoftState({ role: 'candidate', leader: null, term: 3 });
    nowMs = 3_000;
    events.noteSoftState({ role: 'leader', leader: 'n2', term: 3 });
    expect(events.list()).toEqual([
      { kind: 'leader', wallTimeMs: 3_000, term: 3, leader: 'n2' },
      { kind: 'leader', wallTimeMs: 2_000, term: 2, leader: null },
      { kind: 'leader', wallTimeMs: 1_000, term: 1, leader: 'n1' },
    ]);
  });

  it('records expiries that removed something, and nothing else', () => {
    const events = new RecentEvents(() => 5);
    events.noteExpiry(7, NO_EXPIRY);
    events.noteExpiry(9, { ...NO_EXPIRY, holdsExpired: 2, waitersTimedOut: 1 });
    expect(events.list()).toEqual([{ kind: 'expiry', wallTimeMs: 5, index: 9, holdsExpired: 2, sessionsExpired: 0, waitersTimedOut: 1 }]);
  });

  it('keeps only the newest `capacity` events', () => {
    const events = new RecentEvents(() => 0, 3);
    for (let index = 1; index <= 10; index++) events.noteExpiry(index, { ...NO_EXPIRY, holdsExpired: 1 });
    expect(events.list().map((e) => (e.kind === 'expiry' ? e.index : -1))).toEqual([10, 9, 8]);
    expect(() => new RecentEvents(() => 0, 0)).toThrow();
  });
});

describe('RecentEvents edges', () => {
  it('records a leader re-elected at a newer term as a new event', () => {
    const events = new RecentEvents(() => 0);
    events.noteSoftState({ role: 'follower', leader: 'n1', term: 1 });
    events.noteSoftState({ role: 'follower', leader: 'n1', term: 2 });
    events.noteSoftState({ role: 'follower', leader: 'n2', term: 2 });
    expect(events.list().map((e) => (e.kind === 'leader' ? `${e.leader}@${e.term}` : '-'))).toEqual(['n2@2', 'n1@2', 'n1@1']);
  });

  it('records an expiry that removed only one kind of thing, whichever it is', () => {
    const events = new RecentEvents(() => 0);
    events.noteExpiry(1, { ...NO_EXPIRY, holdsExpired: 1 });
    events.noteExpiry(2, { ...NO_EXPIRY, sessionsExpired: 1 });
    events.noteExpiry(3, { ...NO_EXPIRY, waitersTimedOut: 1 });
    events.noteExpiry(4, { ...NO_EXPIRY, holdsExpired: 1, waitersTimedOut: 1 });
    events.noteExpiry(5, { ...NO_EXPIRY, holdsExpired: 1, sessionsExpired: 1 });
    expect(events.list().map((e) => (e.kind === 'expiry' ? e.index : -1))).toEqual([5, 4, 3, 2, 1]);
  });
});
