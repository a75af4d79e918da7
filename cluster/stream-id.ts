// Redis stream ids (`MILLISECONDS-SEQUENCE`) and their order. Both halves can pass 2^53 only in
// theory (the year 287396), so plain numbers compare them exactly.

export type StreamId = string;

/** The id before every entry: reading after it reads the whole stream. */
export const STREAM_START: StreamId = '0-0';

/** Negative when a comes before b, 0 when equal, positive after. */
export function compareStreamIds(a: StreamId, b: StreamId): number {
  const [aMs, aSeq] = split(a);
  const [bMs, bSeq] = split(b);
  return aMs !== bMs ? aMs - bMs : aSeq - bSeq;
}

function split(id: StreamId): [number, number] {
  const dash = id.indexOf('-');
  if (dash < 0) throw new Error(`not a stream id: ${id}`);
  return [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}

/** The time Redis gave an entry: its id's milliseconds (ms since the epoch, Redis's clock). */
export function timeOfStreamId(id: StreamId): number {
  return split(id)[0];
}
