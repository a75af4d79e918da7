// The bench's own message format, carried as chat text (chatd, the seed) or a NATS payload:
// `~b RUN SENDER SEQ SENT_NS xxx…`, padded to --payload bytes. RUN is a number drawn for each run,
// so a message left in a server by an earlier run is never counted in this one. SENT_NS is
// nanoseconds since the run's epoch on process.hrtime.bigint(), one monotonic clock for every
// thread of the bench.

export const MARKER = Buffer.from('~b ', 'latin1');
const SPACE = 0x20;
const ZERO = 0x30;
const NINE = 0x39;

/** The shortest payload that holds the fields; smaller --payload values are raised to it. */
export const MIN_PAYLOAD_BYTES = 48;

export function formatPayload(run: number, sender: number, seq: number, sentNs: number, payloadBytes: number): string {
  const head = `~b ${run} ${sender} ${seq} ${sentNs} `;
  return head.length >= payloadBytes ? head : head + 'x'.repeat(payloadBytes - head.length);
}

export interface ParsedPayload {
  run: number;
  sender: number;
  seq: number;
  sentNs: number;
}

/**
 * Reads the four numbers after a marker at `at` (the index of `~`), without making a string.
 * Returns false when the bytes there are not a whole payload head.
 */
export function parsePayloadAt(bytes: Uint8Array, at: number, into: ParsedPayload): boolean {
  let i = at + MARKER.length;
  const fields = [0, 0, 0, 0];
  for (let field = 0; field < 4; field++) {
    let value = 0;
    const start = i;
    while (i < bytes.length && bytes[i]! >= ZERO && bytes[i]! <= NINE) value = value * 10 + (bytes[i++]! - ZERO);
    if (i === start || i >= bytes.length || bytes[i] !== SPACE) return false;
    fields[field] = value;
    i++;
  }
  into.run = fields[0]!;
  into.sender = fields[1]!;
  into.seq = fields[2]!;
  into.sentNs = fields[3]!;
  return true;
}
