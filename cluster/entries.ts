// The entries of the cluster's stream (docs/CLUSTER.md §3): what the scripts append and every
// node reads back, in the one global order. Parsing goes by the table in cluster/stream-fields.ts
// and is strict: an entry this version does not understand is reported, never guessed at.

import type { StreamId } from './stream-id.ts';
import {
  ENTRY_LAYOUTS,
  LOGOUT_REASONS,
  RESUME_WHY,
  STREAM_FIELDS,
  isEntryKind,
  type EntryFields,
  type EntryKind,
  type FieldName,
  type LogoutReason,
} from './stream-fields.ts';

/** Why a logout entry was written: a client's /quit, its socket closing, or its node going away. */
export type LeaveWhy = LogoutReason;

interface Origin {
  readonly id: StreamId;
  /** The node that wrote the entry, and its sequence number for the request (0 when none). */
  readonly node: string;
  readonly seq: number;
}

interface ClientFields {
  /** The client key, `NODE/CONNECTION-ID`. */
  readonly client: string;
  readonly addr: string;
  readonly name: string;
}

/** A history entry's position (PROTOCOL.md §10.1); null on an entry of a chatd from before positions. */
interface Positioned {
  readonly position: number | null;
}

export type Entry = Origin &
  (
    /** `isResume`: the client took back a session with it (CLUSTER.md §9). */
    | ({ readonly kind: 'login'; readonly isResume: boolean } & ClientFields)
    | ({ readonly kind: 'chat'; readonly text: string } & ClientFields & Positioned)
    | ({ readonly kind: 'rename'; readonly newName: string } & ClientFields & Positioned)
    | ({ readonly kind: 'private'; readonly to: string; readonly text: string } & ClientFields)
    | ({ readonly kind: 'logout'; readonly why: LeaveWhy } & ClientFields)
    | ({ readonly kind: 'timeout' } & ClientFields)
    | ({ readonly kind: 'announce'; readonly text: string } & Positioned)
  );

type EntryOf<K extends EntryKind> = Extract<Entry, { readonly kind: K }>;

export type LoginEntry = EntryOf<'login'>;

/**
 * How each kind's fields become its Entry. A builder can read only the fields the table says its
 * kind carries, and only those it always carries are typed as there: a field dropped from a kind
 * in the table, or made optional, does not compile here until the parser is changed to match.
 * fast path: each entry is one object literal; spreading an origin and a client into it is slower.
 */
const BUILDERS: { readonly [K in EntryKind]: (id: StreamId, fields: EntryFields<K>) => EntryOf<K> } = {
  login: (id, { node, seq, client, addr, name, why }) => {
    return { id, node, seq: Number(seq), kind: 'login', client, addr, name, isResume: why === RESUME_WHY };
  },
  chat: (id, { node, seq, client, addr, name, text, position }) => {
    return { id, node, seq: Number(seq), kind: 'chat', client, addr, name, text, position: positionOf(id, position) };
  },
  rename: (id, { node, seq, client, addr, name, text, position }) => {
    return { id, node, seq: Number(seq), kind: 'rename', client, addr, name, newName: text, position: positionOf(id, position) };
  },
  private: (id, { node, seq, client, addr, name, to, text }) => {
    return { id, node, seq: Number(seq), kind: 'private', client, addr, name, to, text };
  },
  // A logout that no request caused (a node given up or stopped, a resync) has no seq.
  logout: (id, { node, seq, client, addr, name, why }) => ({
    id,
    node,
    seq: seq === undefined ? 0 : Number(seq),
    kind: 'logout',
    client,
    addr,
    name,
    why: logoutReason(id, why),
  }),
  timeout: (id, { node, seq, client, addr, name }) => ({ id, node, seq: Number(seq), kind: 'timeout', client, addr, name }),
  announce: (id, { node, seq, text, position }) => ({ id, node, seq: Number(seq), kind: 'announce', text, position: positionOf(id, position) }),
};

function positionOf(id: StreamId, position: string | undefined): number | null {
  if (position === undefined) return null;
  const value = Number(position);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`stream entry ${id} has a position that is not a positive integer: ${position}`);
  return value;
}

function logoutReason(id: StreamId, why: string): LeaveWhy {
  if (!(LOGOUT_REASONS as readonly string[]).includes(why)) throw new Error(`stream entry ${id} has an unknown reason ${why}`);
  return why as LeaveWhy;
}

const NAME_OF_LETTER: ReadonlyMap<string, FieldName> = new Map(
  (Object.entries(STREAM_FIELDS) as [FieldName, { readonly letter: string }][]).map(([name, { letter }]) => [letter, name]),
);

/** Parses one entry from XREAD's flat field list; throws an Error that says what is wrong. */
export function parseEntry(id: StreamId, flat: readonly string[]): Entry {
  const byName: Partial<Record<FieldName, string>> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    // A letter this version has no name for is skipped: a newer chatd may add a field that the
    // entries it shares with this one do not need.
    const name = NAME_OF_LETTER.get(flat[i]!);
    if (name !== undefined) byName[name] = flat[i + 1]!;
  }
  const kind = byName.kind;
  if (kind === undefined) throw new Error(`stream entry ${id} has no field ${STREAM_FIELDS.kind.letter}`);
  if (!isEntryKind(kind)) throw new Error(`stream entry ${id} is of an unknown kind ${kind} (a newer chatd?)`);
  return build(id, kind, byName);
}

function build<K extends EntryKind>(id: StreamId, kind: K, byName: Partial<Record<FieldName, string>>): EntryOf<K> {
  for (const { name, letter, isAlways } of ENTRY_LAYOUTS[kind]) {
    if (isAlways && byName[name] === undefined) throw new Error(`stream entry ${id} has no field ${letter}`);
  }
  // Every field the table says this kind always carries was checked just above.
  return BUILDERS[kind](id, byName as EntryFields<K>);
}

/** The node that owns a client key. */
export function nodeOfClient(client: string): string {
  return client.slice(0, client.indexOf('/'));
}

/**
 * Parses one entry as the scripts keep it in the `history` list (cluster/scripts.ts): a JSON array
 * of its stream id, then its fields as XREAD gives them. Throws an Error that says what is wrong.
 */
export function parseKeptEntry(kept: string): Entry {
  const array: unknown = JSON.parse(kept);
  if (!Array.isArray(array) || array.length < 1 || !array.every((item) => typeof item === 'string')) {
    throw new Error(`a kept history entry is not an array of strings: ${kept.slice(0, 80)}`);
  }
  const [id, ...flat] = array as string[];
  return parseEntry(id!, flat);
}
