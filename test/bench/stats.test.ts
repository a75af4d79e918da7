// The median every bench table over repeated runs reports, and the sum of the senders' counts.

import { describe, expect, it } from 'vitest';
import { median, sum } from '../../bench/stats.ts';

describe('median', () => {
  it('takes the middle value of an odd count and the mean of the two middle ones of an even count', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe('sum', () => {
  it('adds the counts of a typed array', () => {
    expect(sum(new Int32Array([3, 0, 4]))).toBe(7);
  });
});
