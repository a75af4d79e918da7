// A run of broadcasts as positions: where each member starts, and the messages between positions.

import { describe, expect, it } from 'vitest';
import { BroadcastRun } from '../../server/broadcast-run.ts';

describe('BroadcastRun', () => {
  it('starts everyone at the run start but those placed elsewhere, and counts messages between positions', () => {
    const run = new BroadcastRun<string>();
    run.startAt('ignored', 5); // closed: nothing to start at
    run.open(10);
    run.open(99); // already open: stays at 10
    run.appended(20, 2);
    run.startAt('late', 20);
    run.appended(26, 1);
    run.appended(40, 3);
    expect(run.startOf('early')).toBe(10);
    expect(run.startOf('late')).toBe(20);
    expect(run.startOf('ignored')).toBe(10);
    expect(run.messagesBetween(10, 40)).toBe(6);
    expect(run.messagesBetween(20, 40)).toBe(4);
    expect(run.messagesBetween(26, 26)).toBe(0);
    run.close();
    expect(run.isOpen).toBe(false);
    run.open(0);
    expect(run.startOf('late')).toBe(0);
    expect(run.messagesBetween(0, 0)).toBe(0);
  });
});
