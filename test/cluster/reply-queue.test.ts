// ReplyQueue keeps one client's replies in the order of its commands, whatever order Redis and
// the stream answer in (docs/CLUSTER.md §5).

import { describe, expect, it } from 'vitest';
import { ReplyQueue } from '../../cluster/reply-queue.ts';
import { compareStreamIds } from '../../cluster/stream-id.ts';

describe('ReplyQueue', () => {
  it('holds a local reply behind a script that has not answered yet', () => {
    const queue = new ReplyQueue();
    const said: string[] = [];
    const rename = queue.pending();
    queue.local(() => said.push('who'));
    queue.run('5-0');
    expect(said).toEqual([]);
    rename.complete('4-0', () => said.push('rename reply'));
    queue.run('5-0');
    expect(said).toEqual(['rename reply', 'who']);
    expect(queue.isEmpty).toBe(true);
  });

  it('waits until the stream has been read up to the id the script answered with', () => {
    const queue = new ReplyQueue();
    const said: string[] = [];
    queue.pending().complete('10-3', () => said.push('taken'));
    queue.local(() => said.push('who'));
    queue.run('10-2');
    expect(said).toEqual([]);
    queue.run('10-3');
    expect(said).toEqual(['taken', 'who']);
  });

  it('stops waiting for the stream when told the link is down (position null)', () => {
    const queue = new ReplyQueue();
    const said: string[] = [];
    queue.pending().complete('99-0', () => said.push('late'));
    queue.run(null);
    expect(said).toEqual(['late']);
  });
});

describe('compareStreamIds', () => {
  it('orders by milliseconds, then by sequence, as numbers', () => {
    expect(compareStreamIds('10-0', '9-5')).toBeGreaterThan(0);
    expect(compareStreamIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareStreamIds('1700000000000-0', '1700000000000-0')).toBe(0);
  });
});
