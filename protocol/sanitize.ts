// Makes a decoded client line safe to show on other people's terminals: removes every control
// character, whole escape sequences, and the characters that reorder or break text (PROTOCOL.md §2.3).
// Pure; runs in the worker on every line, so the common clean line costs one regex test.

// C0 (includes CR, TAB, ESC), DEL, C1, bidirectional controls and the Unicode line/paragraph separators.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

const ESC = 0x1b;
const BEL = 0x07;
const C1_DCS = 0x90;
const C1_SOS = 0x98;
const C1_CSI = 0x9b;
const C1_ST = 0x9c;
const C1_OSC = 0x9d;
const C1_PM = 0x9e;
const C1_APC = 0x9f;

/** Returns the line as others may see it. A line with nothing unsafe is returned as it is. */
export function sanitizeText(line: string): string {
  // fast path: almost every line typed by a person is clean.
  if (!UNSAFE.test(line)) return line;
  let out = '';
  let i = 0;
  while (i < line.length) {
    const code = line.charCodeAt(i);
    if (code === ESC) {
      i = skipEscape(line, i + 1);
    } else if (code === C1_CSI) {
      i = skipControlSequence(line, i + 1);
    } else if (code === C1_OSC || code === C1_DCS || code === C1_SOS || code === C1_PM || code === C1_APC) {
      i = skipControlString(line, i + 1);
    } else {
      if (!isUnsafe(code)) out += line[i];
      i++;
    }
  }
  return out;
}

function isUnsafe(code: number): boolean {
  return (
    code <= 0x1f ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x061c ||
    code === 0x200e ||
    code === 0x200f ||
    (code >= 0x2028 && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

/** `i` is just past an ESC (ECMA-48 §5.3); returns the index past the whole sequence. */
function skipEscape(line: string, i: number): number {
  if (i >= line.length) return i;
  const next = line.charCodeAt(i);
  if (next === 0x5b /* [ */) return skipControlSequence(line, i + 1);
  // OSC, DCS, SOS, PM, APC: a string ended by ST (or BEL, as xterm accepts for OSC).
  if (next === 0x5d || next === 0x50 || next === 0x58 || next === 0x5e || next === 0x5f) {
    return skipControlString(line, i + 1);
  }
  // Any other escape: intermediate bytes 0x20-0x2F, then one final byte 0x30-0x7E.
  while (i < line.length && line.charCodeAt(i) >= 0x20 && line.charCodeAt(i) <= 0x2f) i++;
  if (i < line.length && line.charCodeAt(i) >= 0x30 && line.charCodeAt(i) <= 0x7e) i++;
  return i;
}

/** CSI: parameter bytes 0x30-0x3F, intermediate bytes 0x20-0x2F, one final byte 0x40-0x7E. */
function skipControlSequence(line: string, i: number): number {
  while (i < line.length && line.charCodeAt(i) >= 0x30 && line.charCodeAt(i) <= 0x3f) i++;
  while (i < line.length && line.charCodeAt(i) >= 0x20 && line.charCodeAt(i) <= 0x2f) i++;
  if (i < line.length && line.charCodeAt(i) >= 0x40 && line.charCodeAt(i) <= 0x7e) i++;
  return i;
}

/** A control string runs to ST (ESC \ or U+009C) or BEL; unterminated, to the end of the line. */
function skipControlString(line: string, i: number): number {
  while (i < line.length) {
    const code = line.charCodeAt(i);
    if (code === BEL || code === C1_ST) return i + 1;
    // ESC \ is ST; any other ESC ends the string and starts a sequence of its own.
    if (code === ESC) return line.charCodeAt(i + 1) === 0x5c /* \ */ ? i + 2 : i;
    i++;
  }
  return i;
}
