// The entries of the cluster's stream (docs/CLUSTER.md §3): what the scripts append and every
// node reads back, in the one global order. Parsing is strict: an entry this version does not
// understand is reported, never guessed at.

import type { StreamId } from './stream-id.ts';

/** Why a logout entry was written: a client's /quit, its socket closing, or its node going away. */
export type LeaveWhy = 'quit' | 'left' | 'node-lost' | 'node-stopped';

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

export type Entry = Origin &
  (
    | ({ readonly kind: 'login'; readonly resync: boolean } & ClientFields)
    | ({ readonly kind: 'chat'; readonly text: string } & ClientFields)
    | ({ readonly kind: 'rename'; readonly newName: string } & ClientFields)
    | ({ readonly kind: 'private'; readonly to: string; readonly text: string } & ClientFields)
    | ({ readonly kind: 'logout'; readonly why: LeaveWhy } & ClientFields)
    | ({ readonly kind: 'timeout' } & ClientFields)
    | { readonly kind: 'announce'; readonly text: string }
  );

const LEAVE_WHYS: readonly string[] = ['quit', 'left', 'node-lost', 'node-stopped'];

/** Parses one entry from XREAD's flat field list; throws an Error that says what is wrong. */
export function parseEntry(id: StreamId, flat: readonly string[]): Entry {
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i]!, flat[i + 1]!);
  const field = (name: string): string => {
    const value = fields.get(name);
    if (value === undefined) throw new Error(`stream entry ${id} has no field ${name}`);
    return value;
  };
  const origin: Origin = { id, node: field('n'), seq: Number(fields.get('s') ?? 0) };
  const kind = field('e');
  if (kind === 'announce') return { ...origin, kind, text: field('t') };
  const client: ClientFields = { client: field('c'), addr: field('a'), name: field('m') };
  switch (kind) {
    case 'login':
      return { ...origin, ...client, kind, resync: fields.get('w') === 'resync' };
    case 'chat':
      return { ...origin, ...client, kind, text: field('t') };
    case 'rename':
      return { ...origin, ...client, kind, newName: field('t') };
    case 'private':
      return { ...origin, ...client, kind, to: field('r'), text: field('t') };
    case 'timeout':
      return { ...origin, ...client, kind };
    case 'logout': {
      const why = field('w');
      if (!LEAVE_WHYS.includes(why)) throw new Error(`stream entry ${id} has an unknown reason ${why}`);
      return { ...origin, ...client, kind, why: why as LeaveWhy };
    }
    default:
      throw new Error(`stream entry ${id} is of an unknown kind ${kind} (a newer chatd?)`);
  }
}

/** The node that owns a client key. */
export function nodeOfClient(client: string): string {
  return client.slice(0, client.indexOf('/'));
}
