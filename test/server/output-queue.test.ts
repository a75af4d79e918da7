// The fan-out batch and one connection's output queue: ranges into the shared bytes, one write
// per flush, zero copies per recipient at the full flush, and the slow-consumer rule.

import { describe, expect, it } from 'vitest';
import { FanOutBatch } from '../../server/fan-out-batch.ts';
import { Offer, OutputQueue } from '../../server/output-queue.ts';
import { FakeTransport } from './worker-fakes.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Appends a broadcast and returns its range. */
function broadcast(batch: FanOutBatch, text: string): [number, number] {
  const start = batch.sharedEnd;
  batch.appendShared(bytes(text));
  return [start, batch.sharedEnd];
}

/** Appends a one-client line and returns its range. */
function privateLine(batch: FanOutBatch, text: string): [number, number] {
  const start = batch.privateEnd;
  batch.appendPrivate(bytes(text));
  return [start, batch.privateEnd];
}

function queue(maxPendingBytes = Infinity) {
  const transport = new FakeTransport();
  const counters = { bytesOut: 0 };
  return { transport, counters, output: new OutputQueue(transport, maxPendingBytes, counters) };
}

describe('FanOutBatch', () => {
  it('hands out adjacent ranges for consecutive broadcasts, starting at 0', () => {
    const batch = new FanOutBatch();
    expect(broadcast(batch, 'one\r\n')).toEqual([0, 5]);
    expect(broadcast(batch, 'two\r\n')).toEqual([5, 10]);
  });

  it('copies a range of the open batch that spans several chunks', () => {
    const batch = new FanOutBatch();
    broadcast(batch, 'one\r\n');
    broadcast(batch, 'two\r\n');
    broadcast(batch, 'three\r\n');
    expect(batch.bytes(3, 13).toString()).toBe('\r\ntwo\r\nthr');
  });

  it('keeps one-client lines apart from broadcasts, so neither moves the other', () => {
    const batch = new FanOutBatch();
    const shared = broadcast(batch, 'all\r\n');
    const own = privateLine(batch, 'you\r\n');
    expect(broadcast(batch, 'all again\r\n')[0]).toBe(shared[1]);
    expect(batch.bytes(...own).toString()).toBe('you\r\n');
  });

  it('seals into slices of one buffer, and starts the next batch empty at 0', () => {
    const batch = new FanOutBatch();
    broadcast(batch, 'one\r\n');
    broadcast(batch, 'two\r\n');
    const own = privateLine(batch, 'you\r\n');
    const sealed = batch.seal();
    const whole = sealed.bytes(0, 10);
    expect(whole.toString()).toBe('one\r\ntwo\r\n');
    expect(sealed.bytes(0, 10)).toBe(whole); // the buffer itself, not a new view
    expect(sealed.bytes(5, 10).buffer).toBe(whole.buffer);
    expect(sealed.bytes(...own).toString()).toBe('you\r\n');
    expect(batch.sharedEnd).toBe(0);
  });

  it('seals a batch of one broadcast without copying it', () => {
    const batch = new FanOutBatch();
    const line = bytes('only\r\n');
    batch.appendShared(line);
    expect(batch.seal().bytes(0, line.byteLength).buffer).toBe(line.buffer);
  });
});

describe('OutputQueue', () => {
  it('writes every broadcast of the batch as the one shared buffer, for every client', () => {
    const batch = new FanOutBatch();
    const alice = queue();
    const bob = queue();
    for (const text of ['one\r\n', 'two\r\n']) {
      const [start, end] = broadcast(batch, text);
      alice.output.offer(start, end, batch);
      bob.output.offer(start, end, batch);
    }
    const sealed = batch.seal();
    alice.output.write(sealed);
    bob.output.write(sealed);
    expect(alice.transport.writes).toHaveLength(1);
    expect(alice.transport.text).toBe('one\r\ntwo\r\n');
    expect(bob.transport.writes[0]).toBe(alice.transport.writes[0]);
  });

  it('says only the first range since the last write makes output to flush', () => {
    const batch = new FanOutBatch();
    const { output } = queue();
    expect(output.offer(...broadcast(batch, 'one\r\n'), batch)).toBe(Offer.QueuedFirst);
    expect(output.offer(...broadcast(batch, 'two\r\n'), batch)).toBe(Offer.Queued);
    output.write(batch);
    expect(output.offer(...broadcast(batch, 'three\r\n'), batch)).toBe(Offer.QueuedFirst);
  });

  it('joins its ranges in order, in one write, when a one-client line comes between broadcasts', () => {
    const batch = new FanOutBatch();
    const { output, transport } = queue();
    output.offer(...broadcast(batch, 'one\r\n'), batch);
    output.offer(...privateLine(batch, 'you\r\n'), batch);
    output.offer(...broadcast(batch, 'two\r\n'), batch);
    output.write(batch.seal());
    expect(transport.writes).toHaveLength(1);
    expect(transport.text).toBe('one\r\nyou\r\ntwo\r\n');
  });

  it('skips a broadcast that was not queued for it (an except) and writes the rest in order', () => {
    const batch = new FanOutBatch();
    const { output, transport } = queue();
    output.offer(...broadcast(batch, 'one\r\n'), batch);
    broadcast(batch, 'not for you\r\n');
    output.offer(...broadcast(batch, 'two\r\n'), batch);
    output.write(batch.seal());
    expect(transport.text).toBe('one\r\ntwo\r\n');
  });

  it('copies from the open batch when written ahead of the full flush, and writes nothing twice', () => {
    const batch = new FanOutBatch();
    const { output, transport, counters } = queue();
    output.offer(...broadcast(batch, 'one\r\n'), batch);
    output.write(batch);
    output.write(batch);
    expect(transport.writes).toHaveLength(1);
    expect(transport.text).toBe('one\r\n');
    expect(counters.bytesOut).toBe(5);
  });

  it('refuses ranges once closed, and any while its transport is no longer writable', () => {
    const batch = new FanOutBatch();
    const closed = queue();
    closed.output.close();
    expect(closed.output.offer(...broadcast(batch, 'one\r\n'), batch)).toBe(Offer.Refused);
    const gone = queue();
    gone.transport.isDestroyed = true;
    expect(gone.output.offer(...broadcast(batch, 'two\r\n'), batch)).toBe(Offer.Refused);
    expect(gone.output.unsentBytes).toBe(0);
  });

  it('writes nothing to a transport that stopped being writable after the range was queued', () => {
    const batch = new FanOutBatch();
    const { output, transport } = queue();
    output.offer(...broadcast(batch, 'one\r\n'), batch);
    transport.isDestroyed = true;
    output.write(batch);
    expect(transport.writes).toEqual([]);
  });

  it('counts bytes as they are queued, and adds what the transport has not sent', () => {
    const batch = new FanOutBatch();
    const { output, transport } = queue();
    output.offer(...broadcast(batch, 'one\r\n'), batch);
    transport.pendingWriteBytes = 100;
    expect(output.unsentBytes).toBe(105);
  });
});

describe('OutputQueue offer: the slow-consumer rule', () => {
  it('queues within the cap without writing', () => {
    const batch = new FanOutBatch();
    const { output, transport } = queue(10);
    output.offer(...broadcast(batch, 'one\r\n'), batch);
    expect(output.offer(...broadcast(batch, 'two\r\n'), batch)).toBe(Offer.Queued);
    expect(transport.writes).toEqual([]);
  });

  it('writes ahead past the cap, and queues when the kernel takes it all', () => {
    const batch = new FanOutBatch();
    const { output, transport } = queue(10);
    output.offer(...broadcast(batch, 'one\r\n'), batch);
    expect(output.offer(...broadcast(batch, 'three\r\n'), batch)).toBe(Offer.QueuedFirst);
    expect(transport.text).toBe('one\r\n');
  });

  it('refuses a range that would take what the kernel refuses past the cap, and says how much that was', () => {
    const batch = new FanOutBatch();
    const { output, transport } = queue(10);
    transport.keepsWrites = true;
    output.offer(...broadcast(batch, 'one\r\n'), batch);
    expect(output.offer(...broadcast(batch, 'three\r\n'), batch)).toBe(Offer.SlowConsumer);
    expect(output.unsentAtWrite).toBe(5);
    expect(output.unsentBytes).toBe(5);
  });

  it('queues a range that fits beside what the kernel refuses', () => {
    const batch = new FanOutBatch();
    const { output, transport } = queue(10);
    transport.keepsWrites = true;
    output.offer(...broadcast(batch, 'one\r\n'), batch);
    output.write(batch); // 5 pending in the kernel
    expect(output.offer(...broadcast(batch, 'two\r\n'), batch)).toBe(Offer.QueuedFirst);
    expect(output.offer(...broadcast(batch, 'x\r\n'), batch)).toBe(Offer.SlowConsumer);
  });

  it('reads the transport again, with nothing queued, before it refuses: the kernel may have taken bytes', () => {
    const batch = new FanOutBatch();
    const { output, transport } = queue(10);
    transport.keepsWrites = true;
    output.offer(...broadcast(batch, 'one two\r\n'), batch);
    output.write(batch); // 9 pending
    transport.pendingWriteBytes = 0; // the client read them
    expect(output.offer(...broadcast(batch, '12345678\r\n'), batch)).toBe(Offer.QueuedFirst);
  });

  it('queues a delivery bigger than the cap when nothing is pending at all', () => {
    const batch = new FanOutBatch();
    const { output } = queue(10);
    expect(output.offer(...broadcast(batch, `${'x'.repeat(48)}\r\n`), batch)).toBe(Offer.QueuedFirst);
  });
});
