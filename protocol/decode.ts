// Raw line bytes -> the Command they carry: UTF-8 decoding, sanitizing and parsing in one step,
// so the worker and the tests go through exactly the same path (PROTOCOL.md §2.2-§3).

import type { Command } from './commands.ts';
import { parseLine } from './parse.ts';
import { sanitizeText } from './sanitize.ts';

/** Bytes -> the text others may see: UTF-8 with invalid bytes as U+FFFD (§2.2), sanitized (§2.3). */
export function decodeText(bytes: Uint8Array): string {
  return sanitizeText(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
}

/** Decodes one line as the LineReader delivers it. */
export function decodeLine(bytes: Uint8Array): Command {
  return parseLine(decodeText(bytes));
}
