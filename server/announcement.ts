// POST /announce: the request body -> the one system line every client receives (PROTOCOL.md §5.7).
// Pure. The body is decoded and sanitized exactly as a client line is (§2.2, §2.3), so an
// announcement can no more move a cursor or reorder a line than a client can.
// The encoder belongs beside the others in protocol/encode.ts; it lives here until protocol/ is
// open to this change (issue #4 §3 kept that package out of its scope).

import { SERVER_EOL, sanitizeText } from '../protocol/index.ts';

/**
 * The prefix of an announcement. No client can forge it: client text only ever follows
 * `[ADDR]NAME:` (§5.1), so a line a client caused starts with `[`, and this one never does.
 */
export const ANNOUNCEMENT_PREFIX = '*** ';

/** `*** TEXT` and CRLF: the line everyone online receives. */
export function encodeAnnouncement(text: string): string {
  return `${ANNOUNCEMENT_PREFIX}${text}${SERVER_EOL}`;
}

/**
 * The text of an announcement from the raw body: UTF-8 (invalid bytes become U+FFFD) with every
 * control character and escape sequence removed, a CR or LF included, so a body of several lines
 * becomes one. Null when nothing but white space is left: there is nothing to announce.
 */
export function announcementText(body: Uint8Array): string | null {
  const text = sanitizeText(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  return text.trim() === '' ? null : text;
}
