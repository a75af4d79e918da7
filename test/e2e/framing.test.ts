// Framing and sanitizing through real sockets (PROTOCOL.md §2): lines split over writes or packed
// into one, telnet negotiation, invalid UTF-8, control characters, and the line limit.

import { describe, it } from 'vitest';
import {
  connectAs,
  expectQuietUntilMarker,
  lineFrom,
  type ChatClient,
} from '../helpers/chat-client.ts';
import { useChatd } from '../helpers/use-chatd.ts';

// Telnet (RFC 854) bytes, as a telnet client sends them around the text.
const IAC = 0xff;
const DO = 0xfd;
const WILL = 0xfb;
const SB = 0xfa;
const SE = 0xf0;
const IP = 0xf4;
const ECHO = 0x01;
const NAWS = 0x1f;

/** Writes every byte as a write of its own, each handed to the kernel before the next. */
async function writeByteByByte(client: ChatClient, bytes: Buffer): Promise<void> {
  for (const byte of bytes) await client.write(Buffer.from([byte]));
}

describe('chatd framing (default limits)', () => {
  const server = useChatd();

  it('joins a line split over many writes, one byte per write', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    await writeByteByByte(alice, Buffer.from('one byte at a time\nwho\n'));
    await alice.expectLine(lineFrom(alice, 'one byte at a time'));
    await bob.expectLine(lineFrom(alice, 'one byte at a time'));
    await alice.expectLines('user list:', `${alice.addr}:alice`, `${bob.addr}:bob`);
  });

  it('splits many lines sent in one write, in order', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    const lines = Array.from({ length: 50 }, (_, i) => `line ${i}`);
    await alice.write(`${lines.join('\n')}\nrename|ally\r\nafter\n`);
    for (const line of lines) await bob.expectLine(lineFrom(alice, line));
    await bob.expectLine(`[${alice.addr}]alice:renamed to ally`);
    await bob.expectLine(`[${alice.addr}]ally:after`);
  });

  it('keeps a UTF-8 character whole when it is split between writes', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    await writeByteByByte(alice, Buffer.from('caf\u00e9 \u20ac \u{1f600}\n', 'utf8'));
    await bob.expectLine(lineFrom(alice, 'caf\u00e9 \u20ac \u{1f600}'));
    await alice.expectLine(lineFrom(alice, 'caf\u00e9 \u20ac \u{1f600}'));
  });

  it('never shows telnet negotiation bytes to anyone, whole or split', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    // What a telnet client may send before the user types anything: no line at all.
    await alice.write(Buffer.from([IAC, WILL, NAWS, IAC, SB, NAWS, 0, 80, 0, 24, IAC, SE, IAC, DO, ECHO]));
    const line = Buffer.concat([
      Buffer.from([IAC, DO, ECHO]),
      Buffer.from('he'),
      Buffer.from([IAC, IP]),
      Buffer.from('llo'),
      Buffer.from([IAC, SB, NAWS, 0, 80, 0, 24, IAC, SE]),
      Buffer.from('\n'),
    ]);
    await alice.write(line);
    await bob.expectLine(lineFrom(alice, 'hello'));
    await alice.expectLine(lineFrom(alice, 'hello'));
    await writeByteByByte(alice, line);
    await bob.expectLine(lineFrom(alice, 'hello'));
    await alice.expectLine(lineFrom(alice, 'hello'));
  });

  it('shows invalid UTF-8 as U+FFFD', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    // A lone continuation byte, a lead byte before ASCII, a truncated 3-byte sequence, an overlong '/'.
    await alice.write(Buffer.from([0x61, 0x80, 0x62, 0xc3, 0x28, 0x63, 0xe2, 0x82, 0x41, 0xc0, 0xaf, 0x0a]));
    await bob.expectLine(lineFrom(alice, 'a\ufffdb\ufffd(c\ufffdA\ufffd\ufffd'));
    await alice.expectLine(lineFrom(alice, 'a\ufffdb\ufffd(c\ufffdA\ufffd\ufffd'));
  });

  it.each([
    ['a bell, a tab and a NUL', 'a\u0007b\tc\u0000d', 'abcd'],
    ['a colour escape sequence', '\u001b[1;31mred\u001b[0m text', 'red text'],
    ['a cursor-moving and clearing sequence', 'x\u001b[2J\u001b[H\u001b[10;20fy', 'xy'],
    ['an OSC title change ended by BEL', '\u001b]0;pwned\u0007visible', 'visible'],
    ['an OSC hyperlink ended by ST', '\u001b]8;;http://x\u001b\\link\u001b]8;;\u001b\\', 'link'],
    ['a C1 CSI sequence', 'a\u009b31mb', 'ab'],
    ['a right-to-left override', 'abc\u202edef\u202c', 'abcdef'],
    ['bidi isolates and marks', '\u2066a\u2069\u200fb\u200e\u061c', 'ab'],
    ['line and paragraph separators', 'one\u2028two\u2029three', 'onetwothree'],
  ])('removes %s from what others see', async (_what, text, shown) => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    await alice.send(text);
    await bob.expectLine(lineFrom(alice, shown));
    await alice.expectLine(lineFrom(alice, shown));
  });

  it('ends a line at a bare CR, so it cannot send the cursor back over what it wrote (PROTOCOL.md §2.1)', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    await alice.send('over\rwrite');
    await bob.expectLine(lineFrom(alice, 'over'));
    await bob.expectLine(lineFrom(alice, 'write'));
  });

  it('ends a line at CR NUL, as telnet in character mode sends Enter (RFC 854)', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    await alice.write(Buffer.from('hi there\r\0'));
    await bob.expectLine(lineFrom(alice, 'hi there'));
    for (const byte of Buffer.from('typed\r\0')) await alice.write(Buffer.from([byte]));
    await bob.expectLine(lineFrom(alice, 'typed'));
  });

  it('broadcasts nothing for a line made only of control characters', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    await alice.send('\u001b[2J\u001b[H\u0007');
    await expectQuietUntilMarker(alice, [alice, bob]);
  });
});

// The byte budget (SECURITY.md) would take 80 s to read 5 MB; this is about the line limit's memory bound.
describe('chatd framing with the rate limits off (--rate-limit 0)', () => {
  const server = useChatd(['--rate-limit', '0']);

  it('survives a 5 MB stream with no newline: one error, nothing shown, and the next line works', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let sent = 0; sent < 5 * 1024 * 1024; sent += chunk.length) await alice.write(chunk);
    await alice.expectLine('error: line too long (over 4096 bytes); it was discarded', 10_000);
    await alice.write('\n');
    await expectQuietUntilMarker(alice, [alice, bob]);
    await alice.send('still here');
    await bob.expectLine(lineFrom(alice, 'still here'));
    await alice.expectLine(lineFrom(alice, 'still here'));
  });
});

describe('chatd --max-line 64', () => {
  const TOO_LONG = 'error: line too long (over 64 bytes); it was discarded';
  const server = useChatd(['--max-line', '64', '--rate-limit', '0']);

  it('discards a longer line, tells only the sender, and keeps the connection', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    await alice.send('y'.repeat(65));
    await alice.expectLine(TOO_LONG);
    await expectQuietUntilMarker(alice, [alice, bob]);
    await alice.send('next');
    await bob.expectLine(lineFrom(alice, 'next'));
    await alice.expectLine(lineFrom(alice, 'next'));
  });

  it('shows no part of a long line sent over many writes, and errs once for it', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    for (let i = 0; i < 10; i++) await alice.write('z'.repeat(30));
    await alice.write('tail\n');
    await alice.expectLine(TOO_LONG);
    await expectQuietUntilMarker(alice, [alice, bob]);
  });

  it('accepts a line of exactly 64 bytes, with LF or CRLF, counting bytes not characters', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    const exact = 'e'.repeat(64);
    await alice.write(`${exact}\n${exact}\r\n`);
    await bob.expectLines(lineFrom(alice, exact), lineFrom(alice, exact));
    await alice.expectLines(lineFrom(alice, exact), lineFrom(alice, exact));
    // 22 euro signs are 66 bytes in UTF-8, though only 22 characters.
    await alice.send('\u20ac'.repeat(22));
    await alice.expectLine(TOO_LONG);
    await expectQuietUntilMarker(alice, [alice, bob]);
  });
});
