// The Lua scripts every change to the shared chat goes through (docs/CLUSTER.md §3). Each runs
// atomically inside Redis: a name is claimed and its `login` entry appended in one step, never
// checked first and set later, and the stream's order is the one global order of the cluster.
//
// Keys, all under the prefix (default `chatd:`):
//   log            STREAM  every event of the chat, in the global order
//   last           STRING  the id of the newest entry of `log` (what a snapshot or a reply waits for)
//   arrival        STRING  a counter: the order of arrival that `who` lists
//   who            ZSET    client key -> arrival number
//   client         HASH    client key -> JSON {a: address, n: name, k: folded key, s: skeleton key}
//   names          HASH    a name's folded key (protocol/names.ts NameKeys, made by chatd) -> client key
//   looks          HASH    a name's skeleton key -> client key: a name is taken when either key is held
//   nodes          SET     node ids that have registered
//   node:ID        STRING  a node's heartbeat (expires after the node TTL); value: its read cursor
//   clients:ID     SET     the client keys a node owns
//   position       STRING  the newest history position (PROTOCOL.md §10.1): INCR by the script that appends the entry
//   history        LIST    the last --history-size history entries (chat, rename, announce; at least the newest),
//                          oldest first, each a JSON array of its stream id and its fields: kept beside the stream,
//                          so that neither trim of the stream reaches them (docs/CLUSTER.md §9)
// A client key is `NODE/CONNECTION-ID`; the node id is everything before the first `/`.
//
// No script spells a stream field's letter: each `emit({...})` is written out by append() from
// the table in cluster/stream-fields.ts, the one the parser reads entries by.

import { createHash } from 'node:crypto';
import {
  ENTRY_LAYOUTS,
  RESYNC_WHY,
  type HistoryEntryKind,
  STREAM_FIELDS,
  TIMEOUT_WHY,
  type EntryFields,
  type EntryKind,
  type FieldName,
  type LogoutReason,
} from './stream-fields.ts';

/** A Lua string literal of a letter, kind or reason from the table; they are plain words. */
function lua(word: string): string {
  if (!/^[a-z-]+$/.test(word)) throw new Error(`not a plain word for a Lua literal: ${word}`);
  return `'${word}'`;
}

/**
 * The Lua that appends an entry of this kind: `emit({...})` with each value under its letter, in
 * the table's order. The values are Lua expressions by field name, typed by the table: leaving out
 * a field the kind always carries, or giving one it does not carry, does not compile. It is
 * written into the script's text when this module loads, rather than as a Lua helper per kind:
 * Redis runs the prelude on every call and would define each helper anew every time.
 */
function append<K extends EntryKind>(kind: K, values: EntryFields<K>): string {
  const expressions: Partial<Record<FieldName, string>> = values;
  const fields = [lua(STREAM_FIELDS.kind.letter), lua(kind)];
  for (const { name, letter } of ENTRY_LAYOUTS[kind]) {
    const expression = expressions[name];
    if (expression !== undefined) fields.push(lua(letter), expression);
  }
  return `emit({${fields.join(', ')}})`;
}

/**
 * As `append`, for a kind the history keeps: the entry takes the next position (`position` is
 * counted here, in the script that appends it, so two nodes can never give out the same one) and
 * is kept in the `history` list, capped at the Lua local `keep` of the script (its caller's
 * --history-size).
 */
function appendKept<K extends HistoryEntryKind>(kind: K, values: Omit<EntryFields<K>, 'position'>): string {
  const emitted = append(kind, { ...values, position: 'nextPosition()' } as EntryFields<K>);
  return `keepHistory(keep, ${emitted.slice('emit('.length, -1)})`;
}

/** A logout reason, checked against the table, as a Lua literal. */
const reason = (why: LogoutReason): string => lua(why);

/** Arguments common to every script: the key prefix and the stream's length cap. */
const PRELUDE = `
local P = ARGV[1]
local MAXLEN = ARGV[2]
local function key(name) return P .. name end
local function last() return redis.call('GET', key('last')) or '0-0' end
local function emit(fields)
  local id = redis.call('XADD', key('log'), 'MAXLEN', '~', MAXLEN, '*', unpack(fields))
  redis.call('SET', key('last'), id)
  return id
end
-- The next history position, as the string the stream keeps.
local function nextPosition() return string.format('%d', redis.call('INCR', key('position'))) end
-- Appends a history entry and keeps it in the list as well, with its id: the last KEEP of them, and
-- at least the newest, so that a node that keeps none still learns the newest position at start.
local function keepHistory(keep, fields)
  local id = emit(fields)
  table.insert(fields, 1, id)
  redis.call('RPUSH', key('history'), cjson.encode(fields))
  redis.call('LTRIM', key('history'), -math.max(tonumber(keep), 1), -1)
  return id
end
local function info(c)
  local raw = redis.call('HGET', key('client'), c)
  if not raw then return nil end
  return cjson.decode(raw)
end
local function nodeOf(c) return string.match(c, '^([^/]+)/') end
-- Whether someone other than client C holds the folded key K or the skeleton key S.
local function taken(c, k, s)
  local byName = redis.call('HGET', key('names'), k)
  local byLook = redis.call('HGET', key('looks'), s)
  return (byName and byName ~= c) or (byLook and byLook ~= c)
end
-- Claims NAME (its keys K and S) for client C, or, when someone holds either, ADDR, then ADDR~2,
-- ADDR~3... (addresses are ASCII, so string.lower keys them as chatd does, both keys alike).
-- Returns the name claimed.
local function claim(c, addr, name, k, s)
  if taken(c, k, s) then
    name = addr
    k = string.lower(addr)
    local n = 1
    while taken(c, k, k) do
      n = n + 1
      name = addr .. '~' .. n
      k = string.lower(name)
    end
    s = k
  end
  redis.call('HSET', key('names'), k, c)
  redis.call('HSET', key('looks'), s, c)
  redis.call('HSET', key('client'), c, cjson.encode({a = addr, n = name, k = k, s = s}))
  redis.call('ZADD', key('who'), redis.call('INCR', key('arrival')), c)
  redis.call('SADD', key('clients:' .. nodeOf(c)), c)
  return name
end
-- Takes client C out of presence; returns what it was, or nil when it was not there.
local function drop(c)
  local member = info(c)
  if not member then return nil end
  redis.call('HDEL', key('client'), c)
  if redis.call('HGET', key('names'), member.k) == c then redis.call('HDEL', key('names'), member.k) end
  if redis.call('HGET', key('looks'), member.s) == c then redis.call('HDEL', key('looks'), member.s) end
  redis.call('ZREM', key('who'), c)
  redis.call('SREM', key('clients:' .. nodeOf(c)), c)
  return member
end
-- Everyone a node owned is gone: one logout entry each, then the node is forgotten.
local function dropNode(node, why)
  for _, c in ipairs(redis.call('SMEMBERS', key('clients:' .. node))) do
    local member = drop(c)
    if member then ${append('logout', { node: 'node', client: 'c', addr: 'member.a', name: 'member.n', why: 'why' })} end
  end
  redis.call('DEL', key('clients:' .. node), key('node:' .. node))
  redis.call('SREM', key('nodes'), node)
end
`;

/** Every script by name, with the ARGV it takes after the prelude's two. */
const SOURCES = {
  /** node, seq, client, addr, name, its folded key, its skeleton key -> {'ok', id, name} | {'dup', last} */
  join: `
local node, seq, c, addr, name, k, s = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
if redis.call('HEXISTS', key('client'), c) == 1 then return {'dup', last()} end
name = claim(c, addr, name, k, s)
return {'ok', ${append('login', { node: 'node', seq: 'seq', client: 'c', addr: 'addr', name: 'name' })}, name}
`,
  /** node, seq, history entries to keep, client, text -> {'ok', id} | {'gone', last} */
  say: `
local node, seq, keep, c, text = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local member = info(c)
if not member then return {'gone', last()} end
return {'ok', ${appendKept('chat', { node: 'node', seq: 'seq', client: 'c', addr: 'member.a', name: 'member.n', text: 'text' })}}
`,
  /**
   * node, seq, history entries to keep, client, new name, its folded key, its skeleton key
   * -> {'ok', id} | {'same' | 'taken' | 'gone', last}
   */
  rename: `
local node, seq, keep, c, name, k, s = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local member = info(c)
if not member then return {'gone', last()} end
if member.n == name then return {'same', last()} end
if taken(c, k, s) then return {'taken', last()} end
if redis.call('HGET', key('names'), member.k) == c then redis.call('HDEL', key('names'), member.k) end
if redis.call('HGET', key('looks'), member.s) == c then redis.call('HDEL', key('looks'), member.s) end
redis.call('HSET', key('names'), k, c)
redis.call('HSET', key('looks'), s, c)
redis.call('HSET', key('client'), c, cjson.encode({a = member.a, n = name, k = k, s = s}))
return {'ok', ${appendKept('rename', { node: 'node', seq: 'seq', client: 'c', addr: 'member.a', name: 'member.n', text: 'name' })}}
`,
  /** node, seq, client, the recipient's folded key, its skeleton key, text -> {'ok', id} | {'nouser', last} | {'gone', last} */
  msg: `
local node, seq, c, k, s, text = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local member = info(c)
if not member then return {'gone', last()} end
local to = redis.call('HGET', key('names'), k) or redis.call('HGET', key('looks'), s)
if not to then return {'nouser', last()} end
return {'ok', ${append('private', { node: 'node', seq: 'seq', client: 'c', addr: 'member.a', name: 'member.n', to: 'to', text: 'text' })}}
`,
  /** node, seq, client, why (quit | left: the logout's reason; or TIMEOUT_WHY) -> {'ok', id} | {'gone', last} */
  leave: `
local node, seq, c, why = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local member = drop(c)
if not member then return {'gone', last()} end
if why == ${lua(TIMEOUT_WHY)} then
  return {'ok', ${append('timeout', { node: 'node', seq: 'seq', client: 'c', addr: 'member.a', name: 'member.n', why: 'why' })}}
end
return {'ok', ${append('logout', { node: 'node', seq: 'seq', client: 'c', addr: 'member.a', name: 'member.n', why: 'why' })}}
`,
  /** node, seq, history entries to keep, text -> {'ok', id, online} */
  announce: `
local node, seq, keep, text = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
return {'ok', ${appendKept('announce', { node: 'node', seq: 'seq', text: 'text' })}, redis.call('ZCARD', key('who'))}
`,
  /**
   * node, ttl ms, cursor, retention ms -> {'ok'} | {'lost'}. Renews this node's heartbeat (only
   * if it still has one: a node that was given up for dead must register again), gives up every
   * node whose heartbeat expired, and trims the entries every live node has read and that are
   * older than the retention.
   */
  heartbeat: `
local node, ttl, cursor, retention = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
if not redis.call('SET', key('node:' .. node), cursor, 'PX', ttl, 'XX') then return {'lost'} end
local lowest = nil
for _, other in ipairs(redis.call('SMEMBERS', key('nodes'))) do
  local seen = redis.call('GET', key('node:' .. other))
  if not seen then
    dropNode(other, ${reason('node-lost')})
  else
    local ms, sq = string.match(seen, '^(%d+)-(%d+)$')
    if ms and (not lowest or tonumber(ms) < lowest) then lowest = tonumber(ms) end
  end
end
local now = redis.call('TIME')
local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - retention
if lowest and lowest < oldest then oldest = lowest end
redis.call('XTRIM', key('log'), 'MINID', string.format('%d', oldest))
return {'ok'}
`,
  /**
   * node, ttl ms, cursor, seq, the newest history position the node knows, then (client, addr,
   * name, folded key, skeleton key) for every client the node owns -> {'ok', last}. Registers the
   * node (again), forgets its clients that are no longer there and brings back the ones Redis does
   * not know: after a start, a lost link or a Redis restart. A Redis that lost its data has lost
   * the position count too: it goes on from the newest one a node knows, rather than from 1.
   */
  resync: `
local node, ttl, cursor, seq, latest = ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
redis.call('SET', key('node:' .. node), cursor, 'PX', ttl)
redis.call('SADD', key('nodes'), node)
if tonumber(redis.call('GET', key('position')) or '0') < latest then redis.call('SET', key('position'), string.format('%d', latest)) end
local owned = {}
for i = 8, #ARGV, 5 do owned[ARGV[i]] = true end
for _, c in ipairs(redis.call('SMEMBERS', key('clients:' .. node))) do
  if not owned[c] then
    local member = drop(c)
    if member then ${append('logout', { node: 'node', client: 'c', addr: 'member.a', name: 'member.n', why: reason('left') })} end
  end
end
for i = 8, #ARGV, 5 do
  local c, addr, name, k, s = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  if redis.call('HEXISTS', key('client'), c) == 0 then
    name = claim(c, addr, name, k, s)
    ${append('login', { node: 'node', seq: 'seq', client: 'c', addr: 'addr', name: 'name', why: lua(RESYNC_WHY) })}
  end
end
return {'ok', last()}
`,
  /**
   * history entries wanted -> {last, {client, addr, name, client, addr, name, …}, {kept entry, …}}
   * in one step: who is online in order of arrival, and the last kept history entries (at least
   * the newest, for its position), oldest first, as the `history` list holds them.
   */
  snapshot: `
local wanted = math.max(tonumber(ARGV[3]), 1)
local who = {}
for _, c in ipairs(redis.call('ZRANGE', key('who'), 0, -1)) do
  local member = info(c)
  if member then
    who[#who + 1] = c
    who[#who + 1] = member.a
    who[#who + 1] = member.n
  end
end
return {last(), who, redis.call('LRANGE', key('history'), -wanted, -1)}
`,
  /** node -> {'ok'}: a node that stops tells the others its clients are gone. */
  leaveNode: `
dropNode(ARGV[3], ${reason('node-stopped')})
return {'ok'}
`,
} as const;

export type ScriptName = keyof typeof SOURCES;

export interface Script {
  readonly name: ScriptName;
  readonly source: string;
  /** SHA-1 of the source, for EVALSHA. */
  readonly sha: string;
}

export const SCRIPTS: Readonly<Record<ScriptName, Script>> = Object.fromEntries(
  Object.entries(SOURCES).map(([name, body]) => {
    const source = PRELUDE + body;
    return [name, { name, source, sha: createHash('sha1').update(source).digest('hex') }];
  }),
) as Record<ScriptName, Script>;
