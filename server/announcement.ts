// POST /announce: the request body -> the text of the one system line every client receives
// (PROTOCOL.md §5.7). Pure. The body is decoded and sanitized exactly as a client line is (§2.2,
// §2.3), so an announcement can no more move a cursor or reorder a line than a client can.
import { decodeText } from '../protocol/index.ts';

/**
 * The text of an announcement from the raw body: UTF-8 (invalid bytes become U+FFFD) with every
 * control character and escape sequence removed, a CR or LF included, so a body of several lines
 * becomes one. Null when nothing but white space is left: there is nothing to announce.
 */
export function announcementText(body: Uint8Array): string | null {
  const text = decodeText(body);
  return text.trim() === '' ? null : text;
}
