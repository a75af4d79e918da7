// Property tests (fast-check): framing does not depend on how TCP chunks the stream, and no byte
// sequence makes the decoder throw or let an unsafe character through.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeLine, LineReader, sanitizeText } from '../../protocol/index.ts';
import { splitAt } from '../helpers/split.ts';

type Event = string | 'TOO_LONG' | 'DISCARDED_END';

function readAll(chunks: Uint8Array[], maxLineBytes: number): { events: Event[]; maxBuffered: number } {
  const events: Event[] = [];
  let maxBuffered = 0;
  const reader = new LineReader(maxLineBytes, {
    onLine: (line) => events.push(line.toString('latin1')),
    onLineTooLong: () => events.push('TOO_LONG'),
    onDiscardedLineEnd: () => events.push('DISCARDED_END'),
  });
  for (const chunk of chunks) {
    reader.push(Buffer.from(chunk));
    maxBuffered = Math.max(maxBuffered, reader.bufferedBytes);
  }
  return { events, maxBuffered };
}

/** Cuts `bytes` at the given offsets, each taken modulo the length so every offset lands. */
function cut(bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  return splitAt(bytes, offsets.map((offset) => offset % (bytes.length + 1)));
}

// Streams rich in the bytes that matter: LF, CR, IAC and its verbs, ESC, UTF-8 lead bytes.
const interestingByte = fc.oneof(
  fc.constantFrom(0x0a, 0x0d, 0xff, 0xfb, 0xfd, 0xfa, 0xf0, 0x1b, 0x5b, 0xc3, 0xa9, 0xe2, 0x80, 0xae),
  fc.integer({ min: 0, max: 255 }),
);
const stream = fc.array(interestingByte, { maxLength: 400 }).map((bytes) => Uint8Array.from(bytes));
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

describe('LineReader (properties)', () => {
  it('reports the same events however the stream is chunked', () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 20 }), fc.integer({ min: 1, max: 64 }), (bytes, offsets, max) => {
        const whole = readAll([bytes], max).events;
        expect(readAll(cut(bytes, offsets), max).events).toEqual(whole);
      }),
      { numRuns: 500 },
    );
  });

  it('never holds more than the limit plus one byte', () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 40 }), fc.integer({ min: 1, max: 32 }), (bytes, offsets, max) => {
        expect(readAll(cut(bytes, offsets), max).maxBuffered).toBeLessThanOrEqual(max + 1);
      }),
      { numRuns: 500 },
    );
  });
});

describe('decodeLine (properties)', () => {
  it('never throws and never lets a control, escape or bidi character through', () => {
    fc.assert(
      fc.property(stream, (bytes) => {
        const command = decodeLine(bytes);
        const texts =
          command.type === 'text' ? [command.text] : command.type === 'msg' ? [command.to, command.text] : command.type === 'rename' ? [command.name] : [];
        for (const text of texts) expect(text).not.toMatch(UNSAFE);
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves clean text unchanged and is idempotent', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), (text) => {
        const once = sanitizeText(text);
        expect(sanitizeText(once)).toBe(once);
        if (!UNSAFE.test(text)) expect(once).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });
});
