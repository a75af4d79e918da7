// ChatHistory alone: the ring of the last entries, and what a client that comes back has missed.

import { describe, expect, it } from 'vitest';
import { ChatHistory, type HistoryEntry } from '../../room/history.ts';

const entry = (position: number): HistoryEntry => ({ position, time: 1_000 * position, kind: 'chat', addr: '127.0.0.1:1', name: 'alice', text: `line ${position}` });
const positions = (entries: readonly HistoryEntry[]): number[] => entries.map((kept) => kept.position);

function historyOf(capacity: number, count: number): ChatHistory {
  const history = new ChatHistory(capacity);
  for (let position = 1; position <= count; position++) history.record(entry(position));
  return history;
}

describe('ChatHistory', () => {
  it('stamps the next entry one position past the newest, from @1', () => {
    const history = new ChatHistory(10);
    expect(history.nextStamp(5)).toEqual({ position: 1, time: 5 });
    history.record(entry(1));
    expect(history.nextStamp(6)).toEqual({ position: 2, time: 6 });
  });

  it('keeps the last `capacity` entries, oldest first, and goes on counting past them', () => {
    const history = historyOf(3, 5);
    expect(positions(history.last(10))).toEqual([3, 4, 5]);
    expect(positions(history.last(2))).toEqual([4, 5]);
    expect(history.latest).toBe(5);
    expect(history.size).toBe(3);
  });

  it('starts from what a store kept, and continues its positions', () => {
    const history = new ChatHistory(3, [entry(7), entry(8)]);
    expect(history.nextStamp(0).position).toBe(9);
    expect(positions(history.last(5))).toEqual([7, 8]);
  });

  it('ignores an entry at or before the newest position (a cluster reading an entry twice)', () => {
    const history = historyOf(5, 3);
    history.record(entry(2));
    expect(positions(history.last(5))).toEqual([1, 2, 3]);
  });

  it('finds what a client missed after its position, up to what it was sent live', () => {
    const history = historyOf(10, 8);
    expect(history.after(5)).toEqual({ entries: [entry(6), entry(7), entry(8)], lost: 0 });
    expect(history.after(5, 7)).toEqual({ entries: [entry(6), entry(7)], lost: 0 });
    expect(history.after(8)).toEqual({ entries: [], lost: 0 });
    expect(history.after(0, 2)).toEqual({ entries: [entry(1), entry(2)], lost: 0 });
  });

  it('counts the missed entries it no longer keeps, so the client can be told', () => {
    const history = historyOf(3, 10);
    expect(history.after(2)).toEqual({ entries: [entry(8), entry(9), entry(10)], lost: 5 });
    // All of the range is older than what is kept.
    expect(history.after(2, 6)).toEqual({ entries: [], lost: 4 });
  });

  it('keeps nothing with capacity 0 and reports every missed entry as lost', () => {
    const history = historyOf(0, 4);
    expect(history.last(10)).toEqual([]);
    expect(history.after(1)).toEqual({ entries: [], lost: 3 });
  });

  it('finds entries across positions that skip, and counts each skipped position as missed (a failed disk write before a restart)', () => {
    const history = new ChatHistory(10, [entry(1), entry(2), entry(5), entry(9)]);
    expect(history.after(2)).toEqual({ entries: [entry(5), entry(9)], lost: 5 });
    expect(history.after(5, 8)).toEqual({ entries: [], lost: 3 });
  });
});
