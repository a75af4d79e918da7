// parseEntry by the table of stream fields (cluster/stream-fields.ts): an entry of every kind, laid
// out from the table, parses to its Entry; a missing field, an unknown kind or an unknown reason
// is refused with a message that says which; the letters themselves never change.

import { describe, expect, it } from 'vitest';
import { parseEntry, parseKeptEntry, type Entry } from '../../cluster/entries.ts';
import {
  ENTRY_KINDS,
  ENTRY_LAYOUTS,
  LOGOUT_REASONS,
  RESUME_WHY,
  RESYNC_WHY,
  STREAM_FIELDS,
  TIMEOUT_WHY,
  flattenEntry,
  type EntryKind,
  type FieldLayout,
} from '../../cluster/stream-fields.ts';

const ID = '1700000000000-3';
const KINDS = Object.keys(ENTRY_KINDS) as EntryKind[];

/** One value per field, as a script would write it for an entry of this kind. */
function valueOf(kind: EntryKind, field: FieldLayout['name']): string {
  const values = { node: 'n1', seq: '7', client: 'n1/3', addr: '10.0.0.1:5', name: 'Ada', to: 'n2/4', text: 'hello', position: '12' };
  if (field !== 'why') return values[field];
  return kind === 'timeout' ? TIMEOUT_WHY : kind === 'login' ? RESYNC_WHY : 'quit';
}

/** An entry of this kind straight from the table: the kind, then each field it carries (or always carries). */
function flatOf(kind: EntryKind, which: 'every' | 'always'): string[] {
  const fields = ENTRY_LAYOUTS[kind].filter((field) => which === 'every' || field.isAlways);
  return [STREAM_FIELDS.kind.letter, kind, ...fields.flatMap((field) => [field.letter, valueOf(kind, field.name)])];
}

const client = { client: 'n1/3', addr: '10.0.0.1:5', name: 'Ada' } as const;
const PARSED: { readonly [K in EntryKind]: Extract<Entry, { kind: K }> } = {
  login: { id: ID, node: 'n1', seq: 7, kind: 'login', ...client, isResume: false },
  chat: { id: ID, node: 'n1', seq: 7, kind: 'chat', ...client, text: 'hello', position: 12 },
  rename: { id: ID, node: 'n1', seq: 7, kind: 'rename', ...client, newName: 'hello', position: 12 },
  private: { id: ID, node: 'n1', seq: 7, kind: 'private', ...client, to: 'n2/4', text: 'hello' },
  logout: { id: ID, node: 'n1', seq: 7, kind: 'logout', ...client, why: 'quit' },
  timeout: { id: ID, node: 'n1', seq: 7, kind: 'timeout', ...client },
  announce: { id: ID, node: 'n1', seq: 7, kind: 'announce', text: 'hello', position: 12 },
};

/** What an entry that carries only its fields that are always there parses to: no seq on a logout, no position. */
function parsedWithoutSometimes(kind: EntryKind): Entry {
  const parsed: Entry = PARSED[kind];
  if (parsed.kind === 'logout') return { ...parsed, seq: 0 };
  if ('position' in parsed) return { ...parsed, position: null };
  return parsed;
}

describe('STREAM_FIELDS', () => {
  it('keeps the letters that every chatd node writes and reads, so that two versions read each other', () => {
    const letters = Object.fromEntries(Object.entries(STREAM_FIELDS).map(([name, { letter }]) => [name, letter]));
    expect(letters).toEqual({ kind: 'e', node: 'n', seq: 's', client: 'c', addr: 'a', name: 'm', to: 'r', text: 't', why: 'w', position: 'p' });
  });

  it('gives every field a letter of its own', () => {
    const letters = Object.values(STREAM_FIELDS).map(({ letter }) => letter);
    expect(new Set(letters).size).toBe(letters.length);
  });

  it('lays an entry out in the order the scripts write it, leaving out what it does not carry', () => {
    const lost = flattenEntry('logout', { node: 'n2', client: 'n2/3', addr: '10.0.0.5:5', name: 'Bo', why: 'node-lost' });
    expect(lost).toEqual(['e', 'logout', 'n', 'n2', 'c', 'n2/3', 'a', '10.0.0.5:5', 'm', 'Bo', 'w', 'node-lost']);
    const psst = flattenEntry('private', { node: 'n1', seq: '5', client: 'n1/1', addr: '10.0.0.1:1', name: 'Ada', to: 'n1/2', text: 'psst' });
    expect(psst).toEqual(['e', 'private', 'n', 'n1', 's', '5', 'c', 'n1/1', 'a', '10.0.0.1:1', 'm', 'Ada', 'r', 'n1/2', 't', 'psst']);
  });
});

describe('parseEntry', () => {
  it.each(KINDS)('parses a %s entry that carries every field the table gives its kind', (kind) => {
    expect(parseEntry(ID, flatOf(kind, 'every'))).toEqual(PARSED[kind]);
  });

  it.each(KINDS)('parses a %s entry that carries only the fields its kind always carries', (kind) => {
    // A logout can lack its seq (one that no client's request caused): it reads as 0. A history
    // entry of a chatd from before positions has none: null.
    expect(parseEntry(ID, flatOf(kind, 'always'))).toEqual(parsedWithoutSometimes(kind));
  });

  const alwaysCarried = KINDS.flatMap((kind) =>
    ENTRY_LAYOUTS[kind].filter((field) => field.isAlways).map((field) => [kind, field.name, field.letter] as const),
  );
  it.each(alwaysCarried)('refuses a %s entry without its %s (%s)', (kind, _name, letter) => {
    const flat = flatOf(kind, 'every');
    flat.splice(flat.indexOf(letter), 2);
    expect(() => parseEntry(ID, flat)).toThrow(new Error(`stream entry ${ID} has no field ${letter}`));
  });

  it('refuses an entry with no kind', () => {
    expect(() => parseEntry(ID, ['n', 'n1', 't', 'hello'])).toThrow(new Error(`stream entry ${ID} has no field e`));
  });

  it('refuses an entry of a kind it does not know, saying that a newer chatd may have written it', () => {
    expect(() => parseEntry(ID, ['e', 'poll', 'n', 'n1', 's', '1', 't', 'lunch?'])).toThrow(
      new Error(`stream entry ${ID} is of an unknown kind poll (a newer chatd?)`),
    );
    // Not fooled by the names every object has.
    expect(() => parseEntry(ID, ['e', 'toString', 'n', 'n1'])).toThrow(
      new Error(`stream entry ${ID} is of an unknown kind toString (a newer chatd?)`),
    );
  });

  it.each(LOGOUT_REASONS)('reads the logout reason %s', (why) => {
    const flat = flattenEntry('logout', { node: 'n1', client: 'n1/3', addr: '10.0.0.1:5', name: 'Ada', why });
    expect(parseEntry(ID, flat)).toEqual({ ...PARSED.logout, seq: 0, why });
  });

  it('refuses a logout whose reason it does not know', () => {
    const flat = flattenEntry('logout', { node: 'n1', client: 'n1/3', addr: '10.0.0.1:5', name: 'Ada', why: 'banned' });
    expect(() => parseEntry(ID, flat)).toThrow(new Error(`stream entry ${ID} has an unknown reason banned`));
  });

  it('reads a login that took back a session as a resume, and any other login as none', () => {
    const resumed = flattenEntry('login', { node: 'n1', seq: '7', client: 'n1/3', addr: '10.0.0.1:5', name: 'Ada', why: RESUME_WHY });
    expect(parseEntry(ID, resumed)).toEqual({ ...PARSED.login, isResume: true });
    expect(parseEntry(ID, flatOf('login', 'always'))).toEqual(PARSED.login);
  });

  it.each(['0', '-1', '1.5', 'x', ''])('refuses a history entry whose position is %j', (position) => {
    const flat = flattenEntry('chat', { node: 'n1', seq: '7', client: 'n1/3', addr: '10.0.0.1:5', name: 'Ada', text: 'hi', position });
    expect(() => parseEntry(ID, flat)).toThrow(new Error(`stream entry ${ID} has a position that is not a positive integer: ${position}`));
  });

  it('parses an entry as the history list keeps it: a JSON array of its id and its fields', () => {
    expect(parseKeptEntry(JSON.stringify([ID, ...flatOf('chat', 'every')]))).toEqual(PARSED.chat);
    expect(() => parseKeptEntry('{"e":"chat"}')).toThrow(new Error('a kept history entry is not an array of strings: {"e":"chat"}'));
  });

  it('skips a field it has no letter for, as a newer chatd may add one', () => {
    expect(parseEntry(ID, [...flatOf('chat', 'every'), 'x', 'something new'])).toEqual(PARSED.chat);
  });

  it('reads entries exactly as the scripts wrote them before the table existed', () => {
    // Copied from a stream that the hand-written scripts had filled.
    const written = [
      ['e', 'login', 'n', 'n2', 's', '9', 'c', 'n2/9', 'a', '10.0.0.9:9', 'm', 'Bob', 'w', 'resync'],
      ['e', 'timeout', 'n', 'n1', 's', '7', 'c', 'n1/1', 'a', '10.0.0.1:1', 'm', 'Ada', 'w', 'timeout'],
      ['e', 'rename', 'n', 'n1', 's', '4', 'c', 'n1/1', 'a', '10.0.0.1:1', 'm', '10.0.0.1:1', 't', 'Ada'],
      ['e', 'logout', 'n', 'n2', 'c', 'n2/4', 'a', '10.0.0.6:6', 'm', 'Cy', 'w', 'node-stopped'],
      ['e', 'announce', 'n', 'n1', 's', '8', 't', 'news'],
    ];
    expect(written.map((flat) => parseEntry(ID, flat))).toEqual([
      { id: ID, node: 'n2', seq: 9, kind: 'login', client: 'n2/9', addr: '10.0.0.9:9', name: 'Bob', isResume: false },
      { id: ID, node: 'n1', seq: 7, kind: 'timeout', client: 'n1/1', addr: '10.0.0.1:1', name: 'Ada' },
      { id: ID, node: 'n1', seq: 4, kind: 'rename', client: 'n1/1', addr: '10.0.0.1:1', name: '10.0.0.1:1', newName: 'Ada', position: null },
      { id: ID, node: 'n2', seq: 0, kind: 'logout', client: 'n2/4', addr: '10.0.0.6:6', name: 'Cy', why: 'node-stopped' },
      { id: ID, node: 'n1', seq: 8, kind: 'announce', text: 'news', position: null },
    ]);
  });
});
