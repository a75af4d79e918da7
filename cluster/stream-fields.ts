// The one table of the cluster stream's fields (docs/CLUSTER.md §3): each field's letter, what it
// holds and which entry kinds carry it, with the entry kinds and the logout reasons. The Lua that
// appends entries is written out from it (cluster/scripts.ts append) and the parser reads by it
// (cluster/entries.ts), so a field cannot be written one way and read another. Data and types only.

/** The kinds of entry, by their value of the `kind` field, and what each one tells. */
export const ENTRY_KINDS = {
  login: 'a client is in, under the name the script gave it (a join, or a resync bringing it back)',
  chat: 'a line said to everyone',
  rename: 'a client took a new name',
  private: 'a /msg from one client to the holder of a name',
  logout: 'a client is gone; `why` says how',
  timeout: 'a client was taken out by its idle timeout',
  announce: 'a POST /announce',
} as const;

export type EntryKind = keyof typeof ENTRY_KINDS;

/** Whether an entry of a kind always carries a field, or only in some of the cases that write it. */
export type Presence = 'always' | 'sometimes';

interface FieldSpec {
  /** The field's name in the stream. Never changes: nodes of two versions read each other's entries. */
  readonly letter: string;
  readonly meaning: string;
  readonly carriedBy: { readonly [K in EntryKind]?: Presence };
}

const EVERY_KIND = {
  login: 'always',
  chat: 'always',
  rename: 'always',
  private: 'always',
  logout: 'always',
  timeout: 'always',
  announce: 'always',
} as const;

/** Every kind but `announce`: the entries about one client. */
const CLIENT_KINDS = {
  login: 'always',
  chat: 'always',
  rename: 'always',
  private: 'always',
  logout: 'always',
  timeout: 'always',
} as const;

/**
 * Every field of the stream, in the order the scripts write them (an entry's fields are a flat
 * list; the order is kept so that the stream reads as it always has). Single letters, because
 * every entry carries them and the stream holds up to STREAM_MAX_LENGTH entries (CLUSTER.md §7).
 */
export const STREAM_FIELDS = {
  kind: { letter: 'e', meaning: 'what the entry is: one of ENTRY_KINDS', carriedBy: EVERY_KIND },
  node: { letter: 'n', meaning: 'the node whose script wrote the entry', carriedBy: EVERY_KIND },
  seq: {
    letter: 's',
    meaning:
      "that node's number for the request that caused the entry; none on a logout that no client's request caused " +
      '(its node given up or stopped, a resync)',
    carriedBy: { ...EVERY_KIND, logout: 'sometimes' },
  },
  client: { letter: 'c', meaning: 'the client key, `NODE/CONNECTION-ID`', carriedBy: CLIENT_KINDS },
  addr: { letter: 'a', meaning: "the client's address", carriedBy: CLIENT_KINDS },
  name: { letter: 'm', meaning: "the client's name; on a rename, the name it had before", carriedBy: CLIENT_KINDS },
  to: { letter: 'r', meaning: "the recipient's client key", carriedBy: { private: 'always' } },
  text: {
    letter: 't',
    meaning: 'the line (chat, private, announce); the new name (rename)',
    carriedBy: { chat: 'always', rename: 'always', private: 'always', announce: 'always' },
  },
  why: {
    letter: 'w',
    meaning:
      'a logout: one of LOGOUT_REASONS; a timeout: TIMEOUT_WHY; a login that a resync brought back: RESYNC_WHY; ' +
      'a login that took back a session: RESUME_WHY',
    carriedBy: { login: 'sometimes', logout: 'always', timeout: 'always' },
  },
  position: {
    letter: 'p',
    meaning:
      "the entry's position in the history (PROTOCOL.md §10.1), counted by the script that appended it; " +
      'none on the entries of a chatd from before positions',
    carriedBy: { chat: 'sometimes', rename: 'sometimes', announce: 'sometimes' },
  },
} as const satisfies Readonly<Record<string, FieldSpec>>;

export type FieldName = keyof typeof STREAM_FIELDS;

/**
 * Why a logout entry was written: the client's /quit, its socket closing, its node given up or
 * stopped. Read, not just shown: the client's own node closes its socket only for the first two
 * (a node given up while alive keeps its clients, CLUSTER.md §4), so an unknown one is refused.
 */
export const LOGOUT_REASONS = ['quit', 'left', 'node-lost', 'node-stopped'] as const;

export type LogoutReason = (typeof LOGOUT_REASONS)[number];

/** The `why` of a timeout entry: the leave script is told `timeout`, and writes it as it came. */
export const TIMEOUT_WHY = 'timeout';

/**
 * The `why` of a login that a resync brought back. No node reads it any more; it is still
 * written because the stream's values stay as they were, for nodes of the version before.
 */
export const RESYNC_WHY = 'resync';

/**
 * The `why` of a login that took back a session (a `/resume`, or a WebSocket that resumed in its
 * handshake): its own node then sends it what it missed and its new token (CLUSTER.md §9).
 */
export const RESUME_WHY = 'resume';

/** The kinds kept in the history (PROTOCOL.md §10): the ones that carry a position. */
export const HISTORY_KINDS = ['chat', 'rename', 'announce'] as const satisfies readonly EntryKind[];

export type HistoryEntryKind = (typeof HISTORY_KINDS)[number];

type CarriedBy<F extends FieldName> = (typeof STREAM_FIELDS)[F]['carriedBy'];

/** The fields (but `kind`) that an entry of kind K carries with the given presence. */
type FieldsWith<K extends EntryKind, P extends Presence> = {
  [F in FieldName]: F extends 'kind' ? never : CarriedBy<F> extends { readonly [k in K]: P } ? F : never;
}[FieldName];

/** An entry's values by field name, as the table has them for kind K: what it always carries is sure to be there. */
export type EntryFields<K extends EntryKind> = { readonly [F in FieldsWith<K, 'always'>]: string } & {
  readonly [F in FieldsWith<K, 'sometimes'>]?: string;
};

export interface FieldLayout {
  readonly name: Exclude<FieldName, 'kind'>;
  readonly letter: string;
  readonly isAlways: boolean;
}

/** Each kind's fields after `kind`, in the order they are written. */
export const ENTRY_LAYOUTS: Readonly<Record<EntryKind, readonly FieldLayout[]>> = {
  login: layoutOf('login'),
  chat: layoutOf('chat'),
  rename: layoutOf('rename'),
  private: layoutOf('private'),
  logout: layoutOf('logout'),
  timeout: layoutOf('timeout'),
  announce: layoutOf('announce'),
};

function layoutOf(kind: EntryKind): FieldLayout[] {
  const layout: FieldLayout[] = [];
  for (const [name, spec] of Object.entries(STREAM_FIELDS) as [FieldName, FieldSpec][]) {
    const presence = spec.carriedBy[kind];
    if (name !== 'kind' && presence !== undefined) layout.push({ name, letter: spec.letter, isAlways: presence === 'always' });
  }
  return layout;
}

export function isEntryKind(value: string): value is EntryKind {
  return Object.hasOwn(ENTRY_KINDS, value);
}

/**
 * An entry as the flat field list that XADD takes and XREAD gives back, laid out as the scripts
 * write it (cluster/scripts.ts append): for tests and tools that write entries from TypeScript.
 */
export function flattenEntry<K extends EntryKind>(kind: K, values: EntryFields<K>): string[] {
  const byName: Partial<Record<FieldName, string>> = values;
  const flat: string[] = [STREAM_FIELDS.kind.letter, kind];
  for (const { name, letter } of ENTRY_LAYOUTS[kind]) {
    const value = byName[name];
    if (value !== undefined) flat.push(letter, value);
  }
  return flat;
}
