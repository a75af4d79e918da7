// POST /announce's body -> the system line, run from the example table of docs/PROTOCOL.md §5.7.

import { describe, expect, it } from 'vitest';
import { encodeAnnouncement } from '../../protocol/index.ts';
import { announcementText } from '../../server/announcement.ts';
import { specTable, unescapeBytes } from '../helpers/spec-tables.ts';

describe('PROTOCOL.md §5.7 announcements', () => {
  it.each(specTable('### 5.7'))('turns the body %s into %s (%s)', (body, line) => {
    const text = announcementText(unescapeBytes(body!));
    if (line === '—') expect(text).toBeNull();
    else expect(Buffer.from(encodeAnnouncement(text!), 'utf8')).toEqual(unescapeBytes(line!));
  });
});

describe('encodeAnnouncement', () => {
  it('never starts a line the way a client line starts (PROTOCOL.md §5.1)', () => {
    expect(encodeAnnouncement('[127.0.0.1:1]alice:hi').startsWith('[')).toBe(false);
  });
});
