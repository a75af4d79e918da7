import { describe, expect, it } from 'vitest';
import { BroadcastLog, PIECE_BYTES } from '../../server/broadcast-log.ts';
import { NOBODY } from '../../room/delivery.ts';

/** A log of broadcasts of these sizes, adjacent in the shared stream (and in the positioned one, 1000 further on, 2 bytes longer each). */
function logOf(sizes: readonly number[], options: { positioned?: boolean; except?: Record<number, number> } = {}): BroadcastLog {
  const log = new BroadcastLog();
  let shared = 0;
  let positioned = 1000;
  sizes.forEach((size, index) => {
    const positionedRange = options.positioned === true ? ([positioned, positioned + size + 2] as const) : null;
    log.append([shared, shared + size], positionedRange, options.except?.[index] ?? NOBODY, 1);
    shared += size;
    positioned += size + 2;
  });
  return log;
}

/** What a connection is given, as [start, end, messages] triples. */
function taken(log: BroadcastLog, cursor: number, id = 7, isPositioned = false): { ranges: number[][]; cursor: number } {
  const ranges: number[][] = [];
  const next = log.catchUp(cursor, id, isPositioned, (start, end, messages) => {
    ranges.push([start, end, messages]);
    return true;
  });
  return { ranges, cursor: next };
}

describe('BroadcastLog', () => {
  it('gives a connection every broadcast since its cursor as one range, with their message count', () => {
    const log = logOf([10, 20, 30]);
    expect(taken(log, 0)).toEqual({ ranges: [[0, 60, 3]], cursor: 3 });
    expect(taken(log, 2)).toEqual({ ranges: [[30, 60, 1]], cursor: 3 });
    expect(taken(log, 3)).toEqual({ ranges: [], cursor: 3 });
  });

  it(`cuts the ranges into pieces of at most ${PIECE_BYTES} bytes, a larger broadcast being a piece of its own`, () => {
    const half = PIECE_BYTES / 2;
    const log = logOf([half, half, 1, 3 * PIECE_BYTES, 5]);
    expect(taken(log, 0).ranges).toEqual([
      [0, PIECE_BYTES, 2],
      [PIECE_BYTES, PIECE_BYTES + 1, 1],
      [PIECE_BYTES + 1, 4 * PIECE_BYTES + 1, 1],
      [4 * PIECE_BYTES + 1, 4 * PIECE_BYTES + 6, 1],
    ]);
    // From inside a piece: the rest of it, then the pieces after.
    expect(taken(log, 1).ranges[0]).toEqual([half, PIECE_BYTES, 1]);
  });

  it('skips the broadcasts a connection is excepted from, and only for that connection', () => {
    const log = logOf([10, 10, 10, 10], { except: { 1: 7, 3: 7 } });
    expect(taken(log, 0, 7).ranges).toEqual([
      [0, 10, 1],
      [20, 30, 1],
    ]);
    expect(taken(log, 2, 7).ranges).toEqual([[20, 30, 1]]);
    expect(taken(log, 0, 8).ranges).toEqual([[0, 40, 4]]);
  });

  it('gives a connection that asked for positions the same broadcasts from the positioned stream', () => {
    const log = logOf([10, 20], { positioned: true });
    expect(taken(log, 0, 7, true).ranges).toEqual([[1000, 1034, 2]]);
    expect(taken(log, 0, 7, false).ranges).toEqual([[0, 30, 2]]);
  });

  it('never joins broadcasts that are not adjacent in a stream, nor one with a positioned form to one without', () => {
    const log = new BroadcastLog();
    log.append([0, 10], null, NOBODY, 1);
    log.append([15, 20], null, NOBODY, 1); // a line to everyone that is no broadcast lies between
    log.append([20, 30], [1000, 1012], NOBODY, 1);
    log.append([30, 40], [1012, 1024], NOBODY, 2);
    expect(taken(log, 0).ranges).toEqual([
      [0, 10, 1],
      [15, 20, 1],
      [20, 40, 3],
    ]);
  });

  it('stops where the connection refuses a range, as a cut slow consumer does', () => {
    const log = logOf([PIECE_BYTES, PIECE_BYTES, PIECE_BYTES]);
    let calls = 0;
    log.catchUp(0, 7, false, () => ++calls < 2);
    expect(calls).toBe(2);
  });

  it('starts a new generation when cleared, empty', () => {
    const log = logOf([10]);
    const generation = log.generation;
    log.clear();
    expect(log.length).toBe(0);
    expect(log.generation).toBe(generation + 1);
    log.append([0, 5], null, 7, 1);
    expect(taken(log, 0, 7)).toEqual({ ranges: [], cursor: 1 });
    expect(taken(log, 0, 8).ranges).toEqual([[0, 5, 1]]);
  });
});
