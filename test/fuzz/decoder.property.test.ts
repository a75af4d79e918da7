// Property tests (fast-check) from the client's bytes to the server's lines: whatever a client
// sends, every line the server builds from it is exactly one CRLF-terminated line, and a reader
// that parses `[ADDR]NAME:TEXT` gets back the real sender, name and text (PROTOCOL.md §5.1: a
// client cannot make a line start where the server did not start one, nor forge a prefix).
// test/protocol/framing.property.test.ts covers framing and the sanitizer alone; this file covers
// decodeLine and encode.ts together, including the error replies that quote the client.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeLine,
  encodeChat,
  encodeError,
  encodePrivate,
  encodeRenamed,
  encodeWho,
  formatAddress,
  nameTaken,
  noSuchUser,
  type Command,
} from '../../protocol/index.ts';

/** A server line as a client would split it: `[ADDR]NAME:TEXT` or `[ADDR]NAME (private):TEXT`. */
interface ParsedEvent {
  readonly addr: string;
  readonly name: string;
  readonly isPrivate: boolean;
  readonly text: string;
}

/**
 * Splits one event line the way a client can, knowing only the grammar: ADDR is `[IPv6]:PORT` or
 * runs to the first `]`; NAME is ADDR itself or runs to the first `:` or ` (private):`, since a
 * chosen name holds neither `:` nor white space (§4).
 */
function parseEvent(line: string): ParsedEvent | null {
  const match = /^\[(\[[^\]]*\]:\d+|[^\]]*)\](.*)$/s.exec(line);
  if (match === null) return null;
  const addr = match[1]!;
  const rest = match[2]!;
  const isAddressName = rest.startsWith(`${addr}:`) || rest.startsWith(`${addr} (private):`);
  const end = isAddressName ? addr.length : rest.search(/ \(private\):|:/);
  if (end === -1) return null;
  const name = rest.slice(0, end);
  const isPrivate = rest.startsWith(' (private):', end);
  return { addr, name, isPrivate, text: rest.slice(end + (isPrivate ? ' (private):'.length : 1)) };
}

/** Every server line that quotes something from this client's line, with what it must read back as. */
function linesFrom(command: Command, addr: string, name: string): { readonly line: string; readonly event?: ParsedEvent }[] {
  switch (command.type) {
    case 'text':
      return [{ line: encodeChat(addr, name, command.text), event: { addr, name, isPrivate: false, text: command.text } }];
    case 'msg':
      return [
        { line: encodePrivate(addr, name, command.text), event: { addr, name, isPrivate: true, text: command.text } },
        { line: encodeError(noSuchUser(command.to)) },
      ];
    case 'rename': {
      const renamed = `renamed to ${command.name}`;
      return [
        { line: encodeRenamed(addr, name, command.name), event: { addr, name, isPrivate: false, text: renamed } },
        { line: encodeChat(addr, command.name, 'hi'), event: { addr, name: command.name, isPrivate: false, text: 'hi' } },
        { line: encodeError(nameTaken(command.name)) },
        ...encodeWho([{ addr, name: command.name }])
          .split(/(?<=\r\n)/)
          .map((line) => ({ line })),
      ];
    }
    case 'invalid':
      return [{ line: encodeError(command.error) }];
    default:
      return []; // empty, who, quit, help: nothing of the client's text is sent back
  }
}

// Client lines: raw bytes rich in framing and escape bytes, arbitrary Unicode, and both behind
// the prefixes that make the parser take its other paths (/msg, rename|, /rename, //, /WORD).
const interestingByte = fc.oneof(
  fc.constantFrom(0x0a, 0x0d, 0x00, 0x1b, 0x5b, 0x5d, 0x3a, 0x7c, 0x20, 0x2f, 0xc2, 0x85, 0x9b, 0xe2, 0x80, 0xa8, 0xae, 0xff),
  fc.integer({ min: 0, max: 255 }),
);
const rawBytes = fc.array(interestingByte, { maxLength: 120 }).map((bytes) => Buffer.from(bytes));
const unicode = fc.string({ unit: 'binary', maxLength: 60 }).map((text) => Buffer.from(text, 'utf8'));
const prefix = fc.constantFrom('', '/msg ', '/msg bob ', 'rename|', '/rename ', '//', '/', 'who', '[127.0.0.1:1]alice:').map((text) => Buffer.from(text));
const clientLine = fc.tuple(prefix, fc.oneof(rawBytes, unicode)).map(([head, tail]) => Buffer.concat([head, tail]));

// The sender: an IPv4 or IPv6 address, named by its address or by a name it chose over the wire.
const address = fc.oneof(
  fc.tuple(fc.ipV4(), fc.integer({ min: 1, max: 65535 })).map(([ip, port]) => formatAddress(ip, port)),
  fc.tuple(fc.ipV6(), fc.integer({ min: 1, max: 65535 })).map(([ip, port]) => formatAddress(ip, port)),
);
const chosenName = fc.oneof(rawBytes, unicode).map((tail) => decodeLine(Buffer.concat([Buffer.from('rename|'), tail])));

describe('decodeLine then encode (properties)', () => {
  it('turns any client line into server lines that are each exactly one CRLF-terminated line', () => {
    fc.assert(
      fc.property(clientLine, address, chosenName, (bytes, addr, renamed) => {
        const name = renamed.type === 'rename' ? renamed.name : addr;
        for (const { line } of linesFrom(decodeLine(bytes), addr, name)) {
          expect(line.endsWith('\r\n'), JSON.stringify(line)).toBe(true);
          // No CR, LF, NEL or Unicode line/paragraph separator before the end: one line on every terminal.
          expect(line.slice(0, -2), JSON.stringify(line)).not.toMatch(/[\r\n\u0085\u2028\u2029]/);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('frames client text only after the real [ADDR]NAME: prefix, so it reads back unchanged', () => {
    fc.assert(
      fc.property(clientLine, address, chosenName, (bytes, addr, renamed) => {
        const name = renamed.type === 'rename' ? renamed.name : addr;
        for (const { line, event } of linesFrom(decodeLine(bytes), addr, name)) {
          if (event === undefined) {
            // Replies that quote the client start with the server's own words, never with `[`.
            expect(line.startsWith('error: ') || line === 'user list:\r\n' || line.startsWith(`${addr}:`), JSON.stringify(line)).toBe(true);
            continue;
          }
          expect(parseEvent(line.slice(0, -2)), JSON.stringify(line)).toEqual(event);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('lists a chosen name in a who entry so that the last colon splits ADDR from NAME', () => {
    fc.assert(
      fc.property(address, chosenName, (addr, renamed) => {
        if (renamed.type !== 'rename') return;
        const entry = encodeWho([{ addr, name: renamed.name }]).split('\r\n')[1]!;
        const colon = entry.lastIndexOf(':');
        expect([entry.slice(0, colon), entry.slice(colon + 1)]).toEqual([addr, renamed.name]);
      }),
      { numRuns: 2000 },
    );
  });
});
