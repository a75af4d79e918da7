// How a log entry shows where it stands in the chat's history (web/entry-marks.js): the data-*
// attributes log-view.js puts on it and the mark in its text, for entries that session.js made
// from the lines of PROTOCOL.md §10. The stylesheet is checked for the mark in light and dark.

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { entryDataset, entryMark } from '../../web/entry-marks.js';
import { ChatSession, type LogEntry } from '../../web/session.js';

const ALICE = '127.0.0.1:40512';
const BOB = '127.0.0.1:40514';
const CLOCK = () => new Date(2026, 0, 2, 9, 5);

/** The entries the lines add to the log, above it or below, in the order they came. */
function entriesFrom(session: ChatSession, lines: readonly string[]): LogEntry[] {
  return lines
    .flatMap((line) => session.receive(line))
    .flatMap((effect) => (effect.type === 'add' ? [effect.entry] : effect.type === 'prepend' ? [...effect.entries] : []));
}

/** Bob's page, online with a token at @14. */
function bobOnline(): ChatSession {
  const session = new ChatSession({ now: CLOCK });
  session.opened();
  entriesFrom(session, [`[${BOB}]${BOB}:login`, `[${BOB}]${BOB}:I am here`, 'user list:', `${BOB}:${BOB}`, 'token bobBobBobBobBobBobBob0 @14']);
  return session;
}

describe('entryDataset', () => {
  it('puts data-history and the position on an entry said before the page joined', () => {
    const [entry] = entriesFrom(bobOnline(), ['history: 1 entry', `history @12 2026-12-02T01:20:00.123Z [${ALICE}]alice:hello`]);
    expect(entryDataset(entry!)).toEqual({ kind: 'chat', id: String(entry!.id), position: '12', history: 'true' });
  });

  it('puts data-caught-up (dataset caughtUp) and the position on an entry said while the page was away', () => {
    const session = bobOnline();
    session.closed();
    session.opened();
    const [entry] = entriesFrom(session, ['resume: 1 entry you missed', `history @15 2026-12-02T01:22:03.500Z [${ALICE}]alice:are you there?`]);
    expect(entryDataset(entry!)).toEqual({ kind: 'chat', id: String(entry!.id), position: '15', caughtUp: 'true' });
  });

  it('puts only the position on a live entry that has one, and keeps the attributes it had', () => {
    const session = bobOnline();
    const [theirs, own, notice] = entriesFrom(session, [`@15 [${ALICE}]alice:hi`, `@16 [${BOB}]${BOB}:hi`, '@17 *** maintenance at 17:00']);
    expect(entryDataset(theirs!)).toEqual({ kind: 'chat', id: String(theirs!.id), position: '15' });
    expect(entryDataset(own!)).toEqual({ kind: 'chat', id: String(own!.id), position: '16', self: 'true' });
    expect(entryDataset(notice!)).toEqual({ kind: 'notice', id: String(notice!.id), position: '17', topic: 'other' });
  });

  it('names the topic of the notice that says a resume was refused', () => {
    const session = bobOnline();
    session.closed();
    session.opened();
    const refusal = 'error: cannot resume: that token is unknown, used, or older than the resume window (120 s); lines said since you left may be missed: /history shows the last ones';
    const entries = entriesFrom(session, [`[${BOB}]${BOB}:login`, `[${BOB}]${BOB}:I am here`, refusal]);
    expect(entries.map((entry) => entryDataset(entry)['topic'])).toContain('resume-refused');
  });
});

describe('entryMark', () => {
  it('marks a caught-up entry with a visible "caught up" that says why in its title', () => {
    const session = bobOnline();
    session.closed();
    session.opened();
    const [entry] = entriesFrom(session, ['resume: 1 entry you missed', `history @15 2026-12-02T01:22:03.500Z [${ALICE}]alice:are you there?`]);
    expect(entryMark(entry!)).toEqual({ text: 'caught up', title: 'said while you were away, and sent when you came back', isVisible: true });
  });

  it('marks an entry said before the page joined with words that screen readers read', () => {
    const [entry] = entriesFrom(bobOnline(), ['history: 1 entry', 'history @14 2026-12-02T01:21:00.250Z *** maintenance at 17:00']);
    expect(entryMark(entry!)).toEqual({ text: 'earlier', title: null, isVisible: false });
  });

  it('gives live entries no mark, positioned or not', () => {
    for (const entry of entriesFrom(bobOnline(), [`@15 [${ALICE}]alice:hi`, `[${ALICE}]alice:login out`, '*** welcome'])) {
      expect(entryMark(entry)).toBeNull();
    }
  });
});

describe('style.css', () => {
  const css = readFileSync(new URL('../../web/style.css', import.meta.url), 'utf8');
  const dark = css.slice(css.indexOf('@media (prefers-color-scheme: dark)'));

  it('styles the history and the caught-up mark from colours it sets in light and in dark', () => {
    for (const selector of ['.entry[data-history]', '.entry[data-caught-up]', '.entry-mark']) expect(css).toContain(`${selector} {`);
    for (const colour of ['--caught-up:', '--caught-up-soft:']) {
      expect(css.indexOf(colour), colour).toBeLessThan(css.indexOf('@media (prefers-color-scheme: dark)'));
      expect(dark.slice(0, dark.indexOf('\n}')), colour).toContain(colour);
    }
  });
});

describe('web/*.js', () => {
  it('never writes HTML: text goes in as text', () => {
    const directory = new URL('../../web/', import.meta.url);
    const files = readdirSync(directory).filter((file) => file.endsWith('.js'));
    expect(files).toContain('log-view.js');
    for (const file of files) {
      const source = readFileSync(new URL(file, directory), 'utf8');
      expect(source, file).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    }
  });
});
