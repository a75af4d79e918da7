// The fan-out batch and one connection's output queue: ranges into the shared bytes, one write
// per flush, zero copies per recipient at the full flush, and the slow-consumer rule.

import { describe, expect, it } from 'vitest';
import { FanOutBatch } from '../../server/fan-out-batch.ts';
import { OutputQueue } from '../../server/output-queue.ts';
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
      alice.output.add(start, end);
      bob.output.add(start, end);
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
    expect(output.add(...broadcast(batch, 'one\r\n'))).toBe(true);
    expect(output.add(...broadcast(batch, 'two\r\n'))).toBe(false);
    output.write(batch);
    expect(output.add(...broadcast(batch, 'three\r\n'))).toBe(true);
  });

  it('joins its ranges in order, in one write, when a one-client line comes between broadcasts', () => {
    const batch = new FanOutBatch();
    const { output, transport } = queue();
    output.add(...broadcast(batch, 'one\r\n'));
    output.add(...privateLine(batch, 'you\r\n'));
    output.add(...broadcast(batch, 'two\r\n'));
    output.write(batch.seal());
    expect(transport.writes).toHaveLength(1);
    expect(transport.text).toBe('one\r\nyou\r\ntwo\r\n');
  });

  it('skips a broadcast that was not queued for it (an except) and writes the rest in order', () => {
    const batch = new FanOutBatch();
    const { output, transport } = queue();
    output.add(...broadcast(batch, 'one\r\n'));
    broadcast(batch, 'not for you\r\n');
    output.add(...broadcast(batch, 'two\r\n'));
    output.write(batch.seal());
    expect(transport.text).toBe('one\r\ntwo\r\n');
  });

  it('copies from the open batch when written ahead of the full flush, and writes nothing twice', () => {
    const batch = new FanOutBatch();
    const { output, transport, counters } = queue();
    output.add(...broadcast(batch, 'one\r\n'));
    output.write(batch);
    output.write(batch);
    expect(transport.writes).toHaveLength(1);
    expect(transport.text).toBe('one\r\n');
    expect(counters.bytesOut).toBe(5);
  });

  it('writes nothing to a transport that is no longer writable', () => {
    const batch = new FanOutBatch();
    const { output, transport } = queue();
    output.add(...broadcast(batch, 'one\r\n'));
    transport.isDestroyed = true;
    output.write(batch);
    expect(transport.writes).toEqual([]);
  });

  it('counts bytes as they are queued, and adds what the transport has not sent', () => {
    const batch = new FanOutBatch();
    const { output, transport } = queue();
    output.add(...broadcast(batch, 'one\r\n'));
    transport.pendingWriteBytes = 100;
    expect(output.unsentBytes).toBe(105);
  });
});

describe('OutputQueue makeRoom (the slow-consumer rule)', () => {
  it('makes room within the cap without writing', () => {
    const batch = new FanOutBatch();
    const { output, transport } = queue(10);
    output.add(...broadcast(batch, 'one\r\n'));
    expect(output.makeRoom(5, batch)).toBe(true);
    expect(transport.writes).toEqual([]);
  });

  it('writes ahead past the cap, and makes room when the kernel takes it all', () => {
    const batch = new FanOutBatch();
    const { output, transport } = queue(10);
    output.add(...broadcast(batch, 'one\r\n'));
    expect(output.makeRoom(6, batch)).toBe(true);
    expect(transport.text).toBe('one\r\n');
  });

  it('refuses bytes that would take what the kernel refuses past the cap, and says how much that was', () => {
    const batch = new FanOutBatch();
    const { output, transport } = queue(10);
    transport.keepsWrites = true;
    output.add(...broadcast(batch, 'one\r\n'));
    expect(output.makeRoom(6, batch)).toBe(false);
    expect(output.unsentAtWrite).toBe(5);
  });

  it('makes room for bytes that fit beside what the kernel refuses', () => {
    const batch = new FanOutBatch();
    const { output, transport } = queue(10);
    transport.keepsWrites = true;
    output.add(...broadcast(batch, 'one\r\n'));
    output.write(batch); // 5 pending in the kernel
    expect(output.makeRoom(5, batch)).toBe(true);
    expect(output.makeRoom(6, batch)).toBe(false);
  });

  it('reads the transport again, with nothing queued, before it refuses: the kernel may have taken bytes', () => {
    const batch = new FanOutBatch();
    const { output, transport } = queue(10);
    transport.keepsWrites = true;
    output.add(...broadcast(batch, 'one two\r\n'));
    output.write(batch); // 9 pending
    transport.pendingWriteBytes = 0; // the client read them
    expect(output.makeRoom(10, batch)).toBe(true);
  });

  it('makes room for a delivery bigger than the cap when nothing is pending at all', () => {
    const batch = new FanOutBatch();
    const { output } = queue(10);
    expect(output.makeRoom(50, batch)).toBe(true);
  });
});
