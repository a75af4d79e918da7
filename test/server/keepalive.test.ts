// The WebSocket keepalive on a fake clock: who is pinged, who is cut, and when (PROTOCOL.md §9.4).

import { describe, expect, it } from 'vitest';
import { Keepalive, type KeepalivePeer } from '../../server/keepalive.ts';
import { FakeWorkerClock } from './worker-fakes.ts';

const INTERVAL_MS = 20_000;

function peer(name: string, seen: string[]): KeepalivePeer {
  return { ping: () => seen.push(`ping ${name}`), timedOut: () => seen.push(`timeout ${name}`) };
}

describe('Keepalive', () => {
  it('pings every peer once an interval, and cuts one that has not answered by the next', () => {
    const clock = new FakeWorkerClock();
    const keepalive = new Keepalive(clock, INTERVAL_MS);
    const seen: string[] = [];
    const alive = peer('alive', seen);
    const dead = peer('dead', seen);
    keepalive.track(alive);
    keepalive.track(dead);
    clock.advance(INTERVAL_MS - 1);
    expect(seen).toEqual([]);
    clock.advance(1);
    expect(seen).toEqual(['ping alive', 'ping dead']);
    keepalive.answered(alive);
    clock.advance(INTERVAL_MS);
    expect(seen.slice(2)).toEqual(['ping alive', 'timeout dead']);
    expect(keepalive.tracked).toBe(1);
  });

  it('notices a dead peer within two intervals of its last pong, whenever it joined', () => {
    const clock = new FakeWorkerClock();
    const keepalive = new Keepalive(clock, INTERVAL_MS);
    const seen: string[] = [];
    keepalive.track(peer('first', seen));
    clock.advance(INTERVAL_MS - 1);
    const late = peer('late', seen);
    keepalive.track(late); // joins one millisecond before a sweep
    clock.advance(1);
    expect(seen).toContain('ping late');
    clock.advance(INTERVAL_MS);
    expect(seen).toContain('timeout late');
  });

  it('keeps no timer while nobody is tracked, and starts again with the next peer', () => {
    const clock = new FakeWorkerClock();
    const keepalive = new Keepalive(clock, INTERVAL_MS);
    const seen: string[] = [];
    const only = peer('only', seen);
    keepalive.track(only);
    keepalive.untrack(only);
    clock.advance(INTERVAL_MS);
    expect(clock.timerTimes).toEqual([]);
    keepalive.answered(only); // a late pong from a peer that is gone changes nothing
    expect(keepalive.tracked).toBe(0);
    keepalive.track(peer('next', seen));
    expect(clock.timerTimes).toEqual([2 * INTERVAL_MS]);
    expect(seen).toEqual([]);
  });
});
