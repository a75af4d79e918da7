// The Lua scripts every change to the shared chat goes through (docs/CLUSTER.md §3). Each runs
// atomically inside Redis: a name is claimed and its `login` entry appended in one step, never
// checked first and set later, and the stream's order is the one global order of the cluster.
//
// Keys, all under the prefix (default `chatd:`):
//   log            STREAM  every event of the chat, in the global order
//   last           STRING  the id of the newest entry of `log` (what a snapshot or a reply waits for)
//   arrival        STRING  a counter: the order of arrival that `who` lists
//   who            ZSET    client key -> arrival number
//   client         HASH    client key -> JSON {a: address, n: name, k: folded key, s: skeleton key, t: its session id, once it asked for a token}
//   names          HASH    a name's folded key (protocol/names.ts NameKeys, made by chatd) -> client key, or `#SID`
//                          while the name is held for the session SID (free again once that hold has ended)
//   looks          HASH    a name's skeleton key -> the same: a name is taken when either key is held
//   nodes          SET     node ids that have registered
//   node:ID        STRING  a node's heartbeat (expires after the node TTL); value: its read cursor
//   clients:ID     SET     the client keys a node owns
//   position       STRING  the newest history position (PROTOCOL.md §10.1): INCR by the script that appends the entry
//   history        LIST    the last --history-size history entries (chat, rename, announce; at least the newest),
//                          oldest first, each a JSON array of its stream id and its fields: kept beside the stream,
//                          so that neither trim of the stream reaches them (docs/CLUSTER.md §9)
//   sessions       HASH    session id -> the client key that has it (PROTOCOL.md §10.3); a session id is the SHA-1 of
//                          its token, made by chatd, so that what Redis keeps cannot be used to resume
//   held           HASH    session id -> JSON {n: the name to give back ('' for none), k, s: its keys}: a dropped session
//   holds          ZSET    session id -> when its hold ends (ms, Redis's clock; the heartbeat clears those that ended)
// A client key is `NODE/CONNECTION-ID`; the node id is everything before the first `/`.
//
// No script spells a stream field's letter: each `emit({...})` is written out by append() (or appendKept()) from
// the table in cluster/stream-fields.ts, the one the parser reads entries by.

import { createHash } from 'node:crypto';
import {
  ENTRY_LAYOUTS,
  RESUME_WHY,
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
  return `emit(${fieldTable(kind, values)})`;
}

/**
 * As `append`, for a kind the history keeps: the entry takes the next position (`position` is
 * counted here, in the script that appends it, so two nodes can never give out the same one) and
 * is kept in the `history` list, capped at the Lua local `keep` of the script (its caller's
 * --history-size).
 */
function appendKept<K extends HistoryEntryKind>(kind: K, values: Omit<EntryFields<K>, 'position'>): string {
  // The table types `position` as a field these kinds carry only sometimes: here it always is.
  const positioned = { ...values, position: 'nextPosition()' } as EntryFields<K>;
  return `keepHistory(keep, ${fieldTable(kind, positioned)})`;
}

/** The Lua table `{letter, value, …}` of an entry's fields, as XADD takes them. */
function fieldTable<K extends EntryKind>(kind: K, values: EntryFields<K>): string {
  const expressions: Partial<Record<FieldName, string>> = values;
  const fields = [lua(STREAM_FIELDS.kind.letter), lua(kind)];
  for (const { name, letter } of ENTRY_LAYOUTS[kind]) {
    const expression = expressions[name];
    if (expression !== undefined) fields.push(lua(letter), expression);
  }
  return `{${fields.join(', ')}}`;
}

/** A logout reason, checked against the table, as a Lua literal. */
const reason = (why: LogoutReason): string => lua(why);

/**
 * Holds whose window has ended that one heartbeat clears (their name keys, their record): what is
 * left waits for the next beat, so that a node given up with many clients costs no long script.
 * A hold that has ended holds nothing already; this only frees the memory.
 */
export const HOLDS_CLEARED = 100;

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
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Whether the session SID is held for a resume now: dropped, and its window not yet ended.
local function isHeld(sid)
  local ends = redis.call('ZSCORE', key('holds'), sid)
  return ends and tonumber(ends) > nowMs()
end
-- Who holds the name key K of HASH (names or looks): a client key, the \`#SID\` of a held session,
-- or nil when nobody does (a hold that has ended holds nothing).
local function holderOf(hash, k)
  local holder = redis.call('HGET', key(hash), k)
  if holder and string.sub(holder, 1, 1) == '#' and not isHeld(string.sub(holder, 2)) then return nil end
  return holder
end
-- The client that holds the name key K of HASH, or nil: a held session is nobody to write to.
local function clientOf(hash, k)
  local holder = redis.call('HGET', key(hash), k)
  if holder and string.sub(holder, 1, 1) ~= '#' then return holder end
  return nil
end
-- Whether someone other than client C holds the folded key K or the skeleton key S; MINE, the
-- \`#SID\` of C's own held session, is no one else.
local function taken(c, k, s, mine)
  local byName = holderOf('names', k)
  local byLook = holderOf('looks', s)
  return (byName and byName ~= c and byName ~= mine) or (byLook and byLook ~= c and byLook ~= mine)
end
-- Lets go of the name key K of HASH if client C holds it; HELD (a session's \`#SID\`) holds it instead when given.
local function release(hash, k, c, held)
  if redis.call('HGET', key(hash), k) ~= c then return end
  if held then redis.call('HSET', key(hash), k, held) else redis.call('HDEL', key(hash), k) end
end
-- Claims NAME (its keys K and S) for client C, or, when someone holds either, ADDR, then ADDR~2,
-- ADDR~3... (addresses are ASCII, so string.lower keys them as chatd does, both keys alike).
-- MINE: C's own held session's \`#SID\`, if any; SID: C's session, if it has one. Returns the name claimed.
local function claim(c, addr, name, k, s, mine, sid)
  if taken(c, k, s, mine) then
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
  redis.call('HSET', key('client'), c, cjson.encode({a = addr, n = name, k = k, s = s, t = sid}))
  redis.call('ZADD', key('who'), redis.call('INCR', key('arrival')), c)
  redis.call('SADD', key('clients:' .. nodeOf(c)), c)
  return name
end
-- Takes client C out of presence; returns what it was, or nil when it was not there. Its session,
-- if it asked for a token, is held for HOLD ms with its name (PROTOCOL.md §10.4: nobody else may
-- take the name meanwhile), or ends when HOLD is 0.
local function drop(c, hold)
  local member = info(c)
  if not member then return nil end
  local held = nil
  if member.t then
    redis.call('HDEL', key('sessions'), member.t)
    if hold > 0 then
      local name = ''
      -- A name that was its address is nobody's to take: nothing of it is held.
      if member.n ~= member.a then
        name = member.n
        held = '#' .. member.t
      end
      redis.call('HSET', key('held'), member.t, cjson.encode({n = name, k = member.k, s = member.s}))
      redis.call('ZADD', key('holds'), string.format('%d', nowMs() + hold), member.t)
    end
  end
  redis.call('HDEL', key('client'), c)
  release('names', member.k, c, held)
  release('looks', member.s, c, held)
  redis.call('ZREM', key('who'), c)
  redis.call('SREM', key('clients:' .. nodeOf(c)), c)
  return member
end
-- Ends the hold of the session SID (resumed, its client back, or its window ended); returns what
-- was held, or nil. The name's keys are let go, unless someone has taken them since.
local function unhold(sid)
  local raw = redis.call('HGET', key('held'), sid)
  redis.call('HDEL', key('held'), sid)
  redis.call('ZREM', key('holds'), sid)
  if not raw then return nil end
  local hold = cjson.decode(raw)
  local held = '#' .. sid
  if redis.call('HGET', key('names'), hold.k) == held then redis.call('HDEL', key('names'), hold.k) end
  if redis.call('HGET', key('looks'), hold.s) == held then redis.call('HDEL', key('looks'), hold.s) end
  return hold
end
-- Everyone a node owned is gone: one logout entry each, their sessions held for HOLD ms, then the node is forgotten.
local function dropNode(node, why, hold)
  for _, c in ipairs(redis.call('SMEMBERS', key('clients:' .. node))) do
    local member = drop(c, hold)
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
release('names', member.k, c)
release('looks', member.s, c)
redis.call('HSET', key('names'), k, c)
redis.call('HSET', key('looks'), s, c)
redis.call('HSET', key('client'), c, cjson.encode({a = member.a, n = name, k = k, s = s, t = member.t}))
return {'ok', ${appendKept('rename', { node: 'node', seq: 'seq', client: 'c', addr: 'member.a', name: 'member.n', text: 'name' })}}
`,
  /** node, seq, client, the recipient's folded key, its skeleton key, text -> {'ok', id} | {'nouser', last} | {'gone', last} */
  msg: `
local node, seq, c, k, s, text = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local member = info(c)
if not member then return {'gone', last()} end
local to = clientOf('names', k) or clientOf('looks', s)
if not to then return {'nouser', last()} end
return {'ok', ${append('private', { node: 'node', seq: 'seq', client: 'c', addr: 'member.a', name: 'member.n', to: 'to', text: 'text' })}}
`,
  /**
   * node, seq, client, why (quit | left: the logout's reason; or TIMEOUT_WHY), how long its session
   * is held (ms; 0: it ends) -> {'ok', id} | {'gone', last}
   */
  leave: `
local node, seq, c, why, hold = ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
local member = drop(c, hold)
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
   * node, ttl ms, cursor, retention ms, how long sessions are held (ms) -> {'ok'} | {'lost'}.
   * Renews this node's heartbeat (only if it still has one: a node that was given up for dead
   * must register again), gives up every node whose heartbeat expired (holding its clients'
   * sessions), trims the entries every live node has read and that are older than the retention,
   * and clears up to HOLDS_CLEARED holds whose window has ended.
   */
  heartbeat: `
local node, ttl, cursor, retention, hold = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
if not redis.call('SET', key('node:' .. node), cursor, 'PX', ttl, 'XX') then return {'lost'} end
local lowest = nil
for _, other in ipairs(redis.call('SMEMBERS', key('nodes'))) do
  local seen = redis.call('GET', key('node:' .. other))
  if not seen then
    dropNode(other, ${reason('node-lost')}, hold)
  else
    local ms, sq = string.match(seen, '^(%d+)-(%d+)$')
    if ms and (not lowest or tonumber(ms) < lowest) then lowest = tonumber(ms) end
  end
end
local now = redis.call('TIME')
local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - retention
if lowest and lowest < oldest then oldest = lowest end
redis.call('XTRIM', key('log'), 'MINID', string.format('%d', oldest))
for _, sid in ipairs(redis.call('ZRANGEBYSCORE', key('holds'), '-inf', string.format('%d', nowMs()), 'LIMIT', 0, ${HOLDS_CLEARED})) do unhold(sid) end
return {'ok'}
`,
  /**
   * node, ttl ms, cursor, seq, the newest history position the node knows, then (client, addr,
   * name, folded key, skeleton key, session id or '') for every client the node owns
   * -> {'ok', last, client, …}. Registers the node (again), forgets its clients that are no longer
   * there (their sessions end) and brings back the ones Redis does not know: after a start, a lost
   * link or a Redis restart. One brought back takes back its session, if Redis still holds it
   * (its node was given up while alive); the clients listed after \`last\` have lost theirs (resumed
   * elsewhere meanwhile, or its window ended). A Redis that lost its data has lost the position
   * count too: it goes on from the newest one a node knows, rather than from 1.
   */
  resync: `
local node, ttl, cursor, seq, latest = ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
redis.call('SET', key('node:' .. node), cursor, 'PX', ttl)
redis.call('SADD', key('nodes'), node)
if tonumber(redis.call('GET', key('position')) or '0') < latest then redis.call('SET', key('position'), string.format('%d', latest)) end
local owned = {}
for i = 8, #ARGV, 6 do owned[ARGV[i]] = true end
for _, c in ipairs(redis.call('SMEMBERS', key('clients:' .. node))) do
  if not owned[c] then
    local member = drop(c, 0)
    if member then ${append('logout', { node: 'node', client: 'c', addr: 'member.a', name: 'member.n', why: reason('left') })} end
  end
end
local out = {'ok', last()}
for i = 8, #ARGV, 6 do
  local c, addr, name, k, s, sid = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  if redis.call('HEXISTS', key('client'), c) == 0 then
    local mine = nil
    if sid == '' then
      sid = nil
    elseif isHeld(sid) then
      mine = '#' .. sid
      redis.call('HDEL', key('held'), sid)
      redis.call('ZREM', key('holds'), sid)
    elseif redis.call('HGET', key('sessions'), sid) ~= c then
      sid = nil
      out[#out + 1] = c
    end
    name = claim(c, addr, name, k, s, mine, sid)
    if sid then redis.call('HSET', key('sessions'), sid, c) end
    ${append('login', { node: 'node', seq: 'seq', client: 'c', addr: 'addr', name: 'name', why: lua(RESYNC_WHY) })}
  end
end
out[2] = last()
return out
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
  /** node, how long sessions are held (ms) -> {'ok'}: a node that stops tells the others its clients are gone. */
  leaveNode: `
dropNode(ARGV[3], ${reason('node-stopped')}, tonumber(ARGV[4]))
return {'ok'}
`,
  /** node, seq, client, session id -> {'ok', last} | {'gone', last}: \`/token\`, the first time a client asks. */
  token: `
local node, seq, c, sid = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local member = info(c)
if not member then return {'gone', last()} end
if member.t and member.t ~= sid then redis.call('HDEL', key('sessions'), member.t) end
member.t = sid
redis.call('HSET', key('client'), c, cjson.encode(member))
redis.call('HSET', key('sessions'), sid, c)
return {'ok', last()}
`,
  /**
   * node, seq, client, its address and the address's two keys, the session id of the token it
   * gave, the session id of its new token, the position it gave, '1' when it is not in yet (the
   * WebSocket handshake, PROTOCOL.md §10.5) else '0'
   * -> {'ok', id, name} | {'refused', id} | {'ahead', id, newest position} | {'gone', last}.
   * Takes back a session (PROTOCOL.md §10.4): held, or still online (a drop not noticed yet: that
   * connection is logged out first); the token is used up, the new one is the client's, and the
   * client takes the session's name, with a login entry whose \`why\` says it resumed: every node
   * shows the login, and the client's own node sends it what it missed. A refusal uses nothing up;
   * a client not in yet comes in under its address all the same, with its login entry.
   */
  resume: `
local node, seq, c, addr, k0, s0, sid, fresh, position, joins = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], tonumber(ARGV[11]), ARGV[12]
local member = info(c)
if not member and joins ~= '1' then return {'gone', last()} end
local function refuse(status, newest)
  if member then return {status, last(), newest} end
  local name = claim(c, addr, addr, k0, s0)
  return {status, ${append('login', { node: 'node', seq: 'seq', client: 'c', addr: 'addr', name: 'name' })}, newest}
end
local online = redis.call('HGET', key('sessions'), sid)
if not online and not isHeld(sid) then return refuse('refused') end
local newest = tonumber(redis.call('GET', key('position')) or '0')
if position > newest then return refuse('ahead', newest) end
-- The name to give back: held with the session, or still its old connection's.
local name, k, s = nil, nil, nil
if online then
  redis.call('HDEL', key('sessions'), sid)
  if online ~= c then
    local old = drop(online, 0)
    if old then
      ${append('logout', { node: 'node', seq: 'seq', client: 'online', addr: 'old.a', name: 'old.n', why: reason('left') })}
      if old.n ~= old.a then name, k, s = old.n, old.k, old.s end
    end
  end
else
  local hold = unhold(sid)
  if hold and hold.n ~= '' then name, k, s = hold.n, hold.k, hold.s end
end
if member then
  if member.t then redis.call('HDEL', key('sessions'), member.t) end
  if name and name ~= member.n and not taken(c, k, s) then
    release('names', member.k, c)
    release('looks', member.s, c)
    redis.call('HSET', key('names'), k, c)
    redis.call('HSET', key('looks'), s, c)
    member.n, member.k, member.s = name, k, s
  end
  member.t = fresh
  redis.call('HSET', key('client'), c, cjson.encode(member))
  name = member.n
else
  name = claim(c, addr, name or addr, k or k0, s or s0, nil, fresh)
end
redis.call('HSET', key('sessions'), fresh, c)
return {'ok', ${append('login', { node: 'node', seq: 'seq', client: 'c', addr: 'addr', name: 'name', why: lua(RESUME_WHY) })}, name}
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
