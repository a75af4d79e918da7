// Turns the bytes of one TCP connection into lines: strips telnet commands, splits on LF or CR, and
// enforces the line limit without ever buffering more than it. Runs in the worker that owns the
// socket; one LineReader per connection, fed every chunk in order (PROTOCOL.md §2).

import { CR, LF, NUL, TELNET_DONT, TELNET_IAC, TELNET_SB, TELNET_SE, TELNET_WILL } from './constants.ts';

/** What a LineReader reports, in stream order. */
export interface LineHandler {
  /**
   * A complete line without its line end (LF, CR LF, CR NUL or a lone CR), telnet commands removed, every other
   * byte as sent. The buffer may be a view into the chunk: use it before returning, never keep it.
   */
  onLine(line: Buffer): void;
  /** The current line passed the limit; its bytes up to the next LF are discarded. */
  onLineTooLong(): void;
  /** The LF that ends a discarded line arrived: the client did send a complete line. */
  onDiscardedLineEnd(): void;
}

// Telnet states, named after the position in RFC 854's grammar.
const DATA = 0;
const AFTER_IAC = 1; // IAC seen; the next byte says which command
const AFTER_OPTION_VERB = 2; // IAC WILL|WONT|DO|DONT seen; the next byte is the option
const IN_SUBNEGOTIATION = 3; // IAC SB seen; everything up to IAC SE is skipped
const IN_SUBNEGOTIATION_AFTER_IAC = 4;
type TelnetState = 0 | 1 | 2 | 3 | 4;

export class LineReader {
  readonly #maxLineBytes: number;
  readonly #handler: LineHandler;
  #telnet: TelnetState = DATA;
  /** Bytes of the current line that arrived in earlier chunks (copied: a chunk is never retained). */
  #partial: Buffer[] = [];
  #partialBytes = 0;
  #isDiscarding = false;
  /** The last chunk ended in a CR that ended a line: a LF or NUL that comes next belongs to it. */
  #isAfterCr = false;

  constructor(maxLineBytes: number, handler: LineHandler) {
    this.#maxLineBytes = maxLineBytes;
    this.#handler = handler;
  }

  /** Feeds the next chunk of the stream. */
  push(chunk: Buffer): void {
    // fast path: no telnet command in flight and none in this chunk, so no copy is needed.
    if (this.#telnet === DATA && chunk.indexOf(TELNET_IAC) === -1) {
      this.#splitLines(chunk);
    } else {
      this.#splitLines(this.#stripTelnet(chunk));
    }
  }

  /** Bytes held for an unfinished line: never more than maxLineBytes + 1. */
  get bufferedBytes(): number {
    return this.#partialBytes;
  }

  #splitLines(data: Buffer): void {
    let start = 0;
    if (this.#isAfterCr && data.length > 0) {
      // The CR that ended the last chunk's line may have its LF or NUL here: one line end, not two.
      this.#isAfterCr = false;
      if (data[0] === LF || data[0] === NUL) start = 1;
    }
    let cr = data.indexOf(CR, start);
    for (;;) {
      const lf = data.indexOf(LF, start);
      if (cr !== -1 && (lf === -1 || cr < lf - 1)) {
        // §2.1: a CR that is not part of CR LF ends the line too. Telnet in character mode sends
        // CR NUL for Enter (RFC 854), and a CR that ends a read may be all of a line end.
        this.#endLine(data, start, cr);
        start = cr + 1;
        if (start === data.length) this.#isAfterCr = true;
        else if (data[start] === NUL) start++;
        cr = data.indexOf(CR, start);
        continue;
      }
      if (lf === -1) break;
      this.#endLine(data, start, lf);
      start = lf + 1;
      if (cr !== -1 && cr < start) cr = data.indexOf(CR, start);
    }
    if (start < data.length) this.#keepPartial(data, start);
  }

  #endLine(data: Buffer, start: number, end: number): void {
    if (this.#isDiscarding) {
      this.#isDiscarding = false;
      this.#handler.onDiscardedLineEnd();
      return;
    }
    let line = data.subarray(start, end);
    if (this.#partialBytes > 0) {
      this.#partial.push(line);
      line = Buffer.concat(this.#partial, this.#partialBytes + line.length);
      this.#partial = [];
      this.#partialBytes = 0;
    }
    // A CR right before the LF is the line end of a telnet client, not content (§2.1). Taken off
    // here, it also keeps a telnet client's clean lines on the sanitizer's fast path.
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (line.length > this.#maxLineBytes) {
      this.#handler.onLineTooLong();
      this.#handler.onDiscardedLineEnd();
      return;
    }
    this.#handler.onLine(line);
  }

  #keepPartial(data: Buffer, start: number): void {
    if (this.#isDiscarding) return;
    this.#partialBytes += data.length - start;
    // One byte of slack: the line may still end in CR LF, and that CR does not count (§2.1).
    if (this.#partialBytes > this.#maxLineBytes + 1) {
      this.#partial = [];
      this.#partialBytes = 0;
      this.#isDiscarding = true;
      this.#handler.onLineTooLong();
      return;
    }
    this.#partial.push(Buffer.from(data.subarray(start)));
  }

  /** Returns the data bytes of the chunk, telnet commands removed (RFC 854). */
  #stripTelnet(chunk: Buffer): Buffer {
    const out = Buffer.allocUnsafe(chunk.length);
    let length = 0;
    let state = this.#telnet;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      switch (state) {
        case DATA:
          if (byte === TELNET_IAC) state = AFTER_IAC;
          else out[length++] = byte;
          break;
        case AFTER_IAC:
          if (byte === TELNET_IAC) {
            out[length++] = byte; // IAC IAC is an escaped data byte 0xFF
            state = DATA;
          } else if (byte >= TELNET_WILL && byte <= TELNET_DONT) state = AFTER_OPTION_VERB;
          else if (byte === TELNET_SB) state = IN_SUBNEGOTIATION;
          else state = DATA; // a two-byte command such as IAC IP (Ctrl-C) or IAC AYT
          break;
        case AFTER_OPTION_VERB:
          state = DATA;
          break;
        case IN_SUBNEGOTIATION:
          if (byte === TELNET_IAC) state = IN_SUBNEGOTIATION_AFTER_IAC;
          break;
        case IN_SUBNEGOTIATION_AFTER_IAC:
          state = byte === TELNET_SE ? DATA : IN_SUBNEGOTIATION;
          break;
      }
    }
    this.#telnet = state;
    return out.subarray(0, length);
  }
}
