// What each connection is owed of the broadcasts gathered in one 'deliver' message: from the
// first for those online before it, from their admit for the others, nothing twice, and in the
// steps the slow-consumer rule would have seen when the whole does not fit its fast path.

import { describe, expect, it } from 'vitest';
import { GatheredBroadcasts, type GatherCursor } from '../../server/gathered-broadcasts.ts';

const newCursor = (): GatherCursor => ({ epoch: -1, index: 0 });

/** Gathers broadcasts of these sizes from position `at`, one server message each unless told. */
function gather(sizes: readonly number[], at = 0, messages = 1): GatheredBroadcasts {
  const gathered = new GatheredBroadcasts();
  for (const size of sizes) {
    gathered.add(at, at + size, messages);
    at += size;
  }
  return gathered;
}

/** Catches `cursor` up, recording the ranges taken; `fits` answers for the whole. */
function catchUp(gathered: GatheredBroadcasts, cursor: GatherCursor, fits = true, refuseAfter = Infinity) {
  const taken: Array<[number, number]> = [];
  const owed = gathered.catchUp(
    cursor,
    () => fits,
    (start, end) => {
      if (taken.length >= refuseAfter) return false;
      taken.push([start, end]);
      return true;
    },
  );
  return { owed, taken };
}

describe('GatheredBroadcasts', () => {
  it('gives a connection online before the gathering every broadcast, as one range, and counts their messages', () => {
    const gathered = gather([10, 20, 5], 100, 2);
    expect(catchUp(gathered, newCursor())).toEqual({ owed: 6, taken: [[100, 135]] });
  });

  it('gives nothing twice: a connection that caught up mid-gathering takes only what came after', () => {
    const gathered = gather([10]);
    const cursor = newCursor();
    expect(catchUp(gathered, cursor).taken).toEqual([[0, 10]]);
    expect(catchUp(gathered, cursor)).toEqual({ owed: 0, taken: [] });
    gathered.add(10, 25, 1);
    expect(catchUp(gathered, cursor)).toEqual({ owed: 1, taken: [[10, 25]] });
  });

  it('gives a connection admitted mid-gathering only the broadcasts after its admit', () => {
    const gathered = gather([10, 20]);
    const admitted = newCursor();
    gathered.cursorNow(admitted);
    gathered.add(30, 37, 1);
    expect(catchUp(gathered, admitted)).toEqual({ owed: 1, taken: [[30, 37]] });
  });

  it('owes everything of a new gathering to a cursor of an earlier one, whatever its index', () => {
    const gathered = gather([10, 20]);
    const cursor = newCursor();
    catchUp(gathered, cursor);
    gathered.clear();
    expect(gathered.length).toBe(0);
    gathered.add(0, 4, 1);
    expect(catchUp(gathered, cursor)).toEqual({ owed: 1, taken: [[0, 4]] });
  });

  it('owes a cursor admitted before anything was gathered all that is gathered later in the same gathering', () => {
    const gathered = new GatheredBroadcasts();
    const admitted = newCursor();
    gathered.cursorNow(admitted);
    gathered.add(0, 4, 1);
    expect(catchUp(gathered, admitted).taken).toEqual([[0, 4]]);
  });

  it('gives broadcast by broadcast when the whole would not fit the fast path, and stops at the first refused', () => {
    const gathered = gather([10, 20, 5, 7]);
    expect(catchUp(gathered, newCursor(), false).taken).toEqual([
      [0, 10],
      [10, 30],
      [30, 35],
      [35, 42],
    ]);
    const refused = catchUp(gathered, newCursor(), false, 2);
    expect(refused.taken).toEqual([
      [0, 10],
      [10, 30],
    ]);
    expect(refused.owed).toBe(4); // counted as delivered, as a broadcast queued to a client then cut is
  });

  it('refuses a broadcast that does not follow the last gathered: it would be another stream or a gap', () => {
    const gathered = gather([10]);
    expect(() => gathered.add(11, 20, 1)).toThrow(/adjacent/);
  });
});
