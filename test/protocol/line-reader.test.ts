import { describe, expect, it } from 'vitest';
import { LineReader } from '../../protocol/index.ts';

type Seen = Array<string | { tooLong: true } | { discardedEnd: true }>;

/** Feeds the chunks to a fresh reader and records what it reports (lines as latin1 to keep every byte). */
function read(chunks: Buffer[], maxLineBytes = 16): Seen {
  const seen: Seen = [];
  const reader = new LineReader(maxLineBytes, {
    onLine: (line) => seen.push(line.toString('latin1')),
    onLineTooLong: () => seen.push({ tooLong: true }),
    onDiscardedLineEnd: () => seen.push({ discardedEnd: true }),
  });
  for (const chunk of chunks) reader.push(chunk);
  return seen;
}

/** Every framing test runs three ways: whole, byte by byte, and split at every index. */
function expectAllSplits(input: Buffer, expected: Seen, maxLineBytes?: number): void {
  expect(read([input], maxLineBytes)).toEqual(expected);
  expect(read([...input].map((byte) => Buffer.from([byte])), maxLineBytes)).toEqual(expected);
  for (let at = 0; at <= input.length; at++) {
    expect(read([input.subarray(0, at), input.subarray(at)], maxLineBytes), `split at ${at}`).toEqual(expected);
  }
}

const bytes = (...parts: Array<string | number[]>): Buffer =>
  Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))));

describe('LineReader', () => {
  it('splits lines on LF and takes a CR before the LF as part of the line end', () => {
    expectAllSplits(bytes('hello\nwho\r\n\n\r\n'), ['hello', 'who', '', '']);
  });

  it('ends a line at a CR that is not part of CR LF, so a bare CR cannot rewrite a screen line', () => {
    expectAllSplits(bytes('a\rb\r\r\n'), ['a', 'b', '']);
  });

  it('ends a line at CR NUL, telnet\'s Enter in character mode (RFC 854), and swallows the NUL', () => {
    expectAllSplits(bytes('hi\r\0there\r\0'), ['hi', 'there']);
  });

  it('ends a line at a CR that ends a read, and takes a LF that starts the next read as part of it', () => {
    expect(read([bytes('hi\r')])).toEqual(['hi']);
    expect(read([bytes('hi\r'), bytes('\nho\r'), bytes('\0')])).toEqual(['hi', 'ho']);
  });

  it('holds an unfinished line until its LF arrives', () => {
    expect(read([bytes('hel'), bytes('lo')])).toEqual([]);
    expect(read([bytes('hel'), bytes('lo'), bytes('\n')])).toEqual(['hello']);
  });

  it('keeps a UTF-8 character that is split between reads whole', () => {
    const euro = Buffer.from('€\n', 'utf8');
    const seen: string[] = [];
    const reader = new LineReader(16, {
      onLine: (line) => seen.push(line.toString('utf8')),
      onLineTooLong: () => {},
      onDiscardedLineEnd: () => {},
    });
    for (const byte of euro) reader.push(Buffer.from([byte]));
    expect(seen).toEqual(['€']);
  });

  it('strips telnet option negotiation, two-byte commands and subnegotiation', () => {
    // IAC DO ECHO, IAC IP, IAC SB NAWS 0 80 0 24 IAC SE, around the text
    expectAllSplits(bytes([255, 253, 1], 'a', [255, 244], 'b', [255, 250, 31, 0, 80, 0, 24, 255, 240], 'c\n'), ['abc']);
  });

  it('turns IAC IAC into one data byte 0xFF', () => {
    expectAllSplits(bytes('a', [255, 255], 'b\n'), ['a\u00ffb']);
  });

  it('reports a line over the limit once, discards it whole, and counts its end as a line', () => {
    const long = 'x'.repeat(40);
    expectAllSplits(bytes(`${long}\nok\n`), [{ tooLong: true }, { discardedEnd: true }, 'ok']);
  });

  it('accepts a line of exactly the limit, with or without CR', () => {
    const exact = 'y'.repeat(16);
    expectAllSplits(bytes(`${exact}\n${exact}\r\n`), [exact, exact]);
  });

  it('refuses a line one byte over the limit even when its last byte arrives with the LF', () => {
    expectAllSplits(bytes(`${'z'.repeat(17)}\n`), [{ tooLong: true }, { discardedEnd: true }]);
  });

  it('never buffers more than the limit for a stream with no newline', () => {
    const reader = new LineReader(64, { onLine: () => {}, onLineTooLong: () => {}, onDiscardedLineEnd: () => {} });
    for (let i = 0; i < 10_000; i++) {
      reader.push(Buffer.alloc(1000, 0x61));
      expect(reader.bufferedBytes).toBeLessThanOrEqual(65);
    }
  });
});
