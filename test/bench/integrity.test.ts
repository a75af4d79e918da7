import { describe, expect, it } from 'vitest';
import { ClientTally, orderDisagreements } from '../../bench/integrity.ts';
import { senderOfClient } from '../../bench/client-worker.ts';
import { formatPayload, MIN_PAYLOAD_BYTES, parsePayloadAt, type ParsedPayload } from '../../bench/payload.ts';

function tallyOf(messages: Array<[number, number]>, sent: number[]) {
  const tally = new ClientTally(sent.length);
  for (const [sender, seq] of messages) tally.receive(sender, seq);
  return tally.endRound(sent);
}

describe('ClientTally', () => {
  it('counts a clean round as clean', () => {
    expect(tallyOf([[0, 0], [1, 0], [0, 1], [1, 1]], [2, 2]).counts).toEqual({ received: 4, duplicated: 0, late: 0, lost: 0 });
  });

  it('counts a message that never came as lost, in the middle and at the end', () => {
    expect(tallyOf([[0, 0], [0, 2]], [4]).counts).toEqual({ received: 2, duplicated: 0, late: 0, lost: 2 });
  });

  it('counts a message that came twice as duplicated', () => {
    expect(tallyOf([[0, 0], [0, 1], [0, 1]], [2]).counts).toEqual({ received: 3, duplicated: 1, late: 0, lost: 0 });
  });

  it('counts a message that came after a later one of its sender as late, not lost', () => {
    expect(tallyOf([[0, 1], [0, 0]], [2]).counts).toEqual({ received: 2, duplicated: 0, late: 1, lost: 0 });
  });

  it('gives equal fingerprints to equal orders and different ones to different orders', () => {
    const a = tallyOf([[0, 0], [1, 0]], [1, 1]).fingerprint;
    const b = tallyOf([[0, 0], [1, 0]], [1, 1]).fingerprint;
    const c = tallyOf([[1, 0], [0, 0]], [1, 1]).fingerprint;
    expect(a).toBe(b);
    expect(a).not.toBe(c);
  });

  it('knows when it has everything that was sent', () => {
    const tally = new ClientTally(2);
    tally.receive(0, 0);
    expect(tally.hasAll([1, 1])).toBe(false);
    tally.receive(1, 0);
    expect(tally.hasAll([1, 1])).toBe(true);
  });

  it('starts the next round where the last one ended', () => {
    const tally = new ClientTally(1);
    tally.receive(0, 0);
    tally.endRound([1]);
    tally.receive(0, 1);
    expect(tally.endRound([2]).counts).toEqual({ received: 1, duplicated: 0, late: 0, lost: 0 });
  });
});

describe('orderDisagreements', () => {
  it('counts the clients outside the most common order', () => {
    expect(orderDisagreements(new Map([['x', 7], ['y', 2], ['z', 1]]))).toBe(3);
    expect(orderDisagreements(new Map([['x', 10]]))).toBe(0);
  });
});

describe('payload', () => {
  it('round-trips run, sender, sequence and send time at the requested size', () => {
    const text = formatPayload(424242, 12, 345, 987_654_321, 64);
    expect(text).toHaveLength(64);
    const bytes = Buffer.from(`[127.0.0.1:1]x:${text}\r\n`);
    const parsed: ParsedPayload = { run: 0, sender: 0, seq: 0, sentNs: 0 };
    expect(parsePayloadAt(bytes, bytes.indexOf('~b '), parsed)).toBe(true);
    expect(parsed).toEqual({ run: 424242, sender: 12, seq: 345, sentNs: 987_654_321 });
  });

  it('fits the head of a ten-hour run with 10 000 senders into the smallest payload', () => {
    const tenHoursNs = 10 * 3600 * 1e9;
    expect(formatPayload(999_999, 9_999, 99_999_999, tenHoursNs, MIN_PAYLOAD_BYTES)).toHaveLength(MIN_PAYLOAD_BYTES);
  });

  it('refuses a head cut short', () => {
    const bytes = Buffer.from('~b 1 12 34');
    expect(parsePayloadAt(bytes, 0, { run: 0, sender: 0, seq: 0, sentNs: 0 })).toBe(false);
  });
});

describe('senderOfClient', () => {
  it.each([
    [10, 3],
    [1000, 10],
    [7, 7],
    [5000, 5],
  ])('picks exactly the requested senders among %i clients, spread out (%i senders)', (clients, senders) => {
    const chosen = Array.from({ length: clients }, (_, client) => senderOfClient(client, clients, senders)).filter((s) => s !== -1);
    expect(chosen).toEqual(Array.from({ length: senders }, (_, i) => i));
  });
});
