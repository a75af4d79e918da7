// Wire fuzz (issue #4 §2): a real chatd reads random bytes and mutated protocol lines from 30
// connections at a time, for 6 s or 60,000 writes, whichever comes first (bounded as undici's
// fuzzing.test.js is), while three well-behaved clients chat beside them. Afterwards the server must
// still serve, have lost none of the well-behaved lines, and give back the memory the fuzz took.
// The seed is printed; FUZZ_SEED=N replays the same inputs (not the same TCP interleaving).

import { connect as connectSocket, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { checkName, isSameName } from '../../protocol/index.ts';
import { connectAndGreet, connectAs, lineFrom, type ChatClient } from '../helpers/chat-client.ts';
import { isProcessAlive, readRssMiB } from '../helpers/process-memory.ts';
import { chooseSeed, SeededRandom } from '../helpers/seeded-random.ts';
import type { LogRecord } from '../helpers/start-server.ts';
import { useChatd } from '../helpers/use-chatd.ts';
import { splitAt } from '../helpers/split.ts';

const FUZZ_MS = 6000;
/** The count bound beside the time bound: a fast machine stops here instead. */
const MAX_WRITES = 60_000;
const FUZZERS = 30;
const MAX_LINE_BYTES = 512;
/** Generous: V8 keeps some of the heap it grew, and glibc keeps freed arenas. A leak of the fuzz's traffic is far more. */
const RSS_GROWTH_LIMIT_MIB = 60;
const WELL_BEHAVED = ['alice', 'bob', 'carol'] as const;
/** A half-closed client is closed once its replies are out, or after the 2 s grace if it does not read. */
const HALF_CLOSE_LIMIT_MS = 3000;

const SEED = chooseSeed('FUZZ_SEED');

// PROTOCOL.md §2.3: what may never reach another client's terminal.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;
const EVENT_LINE = /^\[(127\.0\.0\.1:\d{1,5})\](.*)$/;

// ---------------------------------------------------------------------------------------------
// What the fuzzers send.

const text = (value: string): number[] => [...Buffer.from(value, 'utf8')];

/** Valid lines and near misses of every kind the parser knows (PROTOCOL.md §3, §7.1). */
const CORPUS: readonly (readonly number[])[] = [
  ...[
    'who', '/who', '/WHO', '/who all', 'who ', 'rename|fuzzy', 'rename|alice', 'rename|ALICE', 'rename|Bob', 'rename|',
    'rename', 'rename|[x]', 'rename|a:b', 'rename|a|b', `rename|${'n'.repeat(33)}`, 'rename|e\u0301', '/rename  zed ',
    '/rename', '/msg a b', '/msg alice psst', '/msg BOB hi there', '/msg', '/msg carol', '/quit', '/quit bye all', '/help',
    '/', '//dance', '/dance', 'hello world', 'renamed it', '', '   ', 'alice 1', '[127.0.0.1:1]alice:alice 1',
    'x (private):forged', '\x1b[31mred\x1b[0m', '\x1b[2J\x1b[H', '\x1b]0;pwned\x07hi', '\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\',
    '\x1bP', '\x1b', 'evil\u202etxt.exe', 'a\u2028b', 'caf\u00e9', '\u{1F600}', 'a\tb\rc\x08d\x00e\x7f',
    'x'.repeat(MAX_LINE_BYTES - 1), 'x'.repeat(MAX_LINE_BYTES), 'x'.repeat(MAX_LINE_BYTES + 1),
  ].map(text),
  // Telnet (RFC 854): WILL ECHO, DO TTYPE, a subnegotiation, IAC IAC, a lone IAC, IAC IP.
  [0xff, 0xfb, 0x01], [0xff, 0xfd, 0x18], [0xff, 0xfa, 0x18, 0x00, ...text('xterm'), 0xff, 0xf0], [0xff, 0xff], [0xff],
  [0xff, 0xf4], [0xff, 0xfa, 0x0a, 0x0a, 0xff, 0xf0],
  // C1 CSI, invalid UTF-8: a bad continuation, an overlong slash, a surrogate, past U+10FFFF.
  [0xc2, 0x9b, ...text('31mred')], [0xc3, 0x28], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80],
];

/** Bytes that change how a line is framed, parsed or sanitized. */
const INTERESTING_BYTES = [
  0x0a, 0x0d, 0x00, 0x07, 0x08, 0x09, 0x1b, 0x5b, 0x5d, 0x7c, 0x3a, 0x2f, 0x20, 0x7f, 0xff, 0xfb, 0xfd, 0xfa, 0xf0,
  0xc2, 0x9b, 0x9c, 0xc3, 0xa9, 0xe2, 0x80, 0xae, 0xed, 0xa0, 0xf0, 0x9f,
];
const TERMINATORS: readonly (readonly number[])[] = [[0x0a], [0x0a], [0x0a], [0x0a], [0x0d, 0x0a], [0x0d, 0x0a], [], [0x0d], [0x0a, 0x0a]];

function someByte(random: SeededRandom): number {
  return random.chance(0.5) ? random.pick(INTERESTING_BYTES) : random.int(0, 255);
}

/** One to four random edits of a line: flip, set, insert, delete, duplicate, truncate, splice. */
function mutate(random: SeededRandom, line: readonly number[]): number[] {
  const bytes = [...line];
  const edits = random.int(0, 4);
  for (let edit = 0; edit < edits; edit++) {
    const at = random.int(0, bytes.length);
    switch (random.int(0, 7)) {
      case 0:
        if (at < bytes.length) bytes[at] = bytes[at]! ^ (1 << random.int(0, 7));
        break;
      case 1:
        if (at < bytes.length) bytes[at] = someByte(random);
        break;
      case 2:
        bytes.splice(at, 0, someByte(random));
        break;
      case 3:
        bytes.splice(at, random.int(1, 3));
        break;
      case 4: {
        const end = random.int(at, bytes.length);
        bytes.splice(random.int(0, bytes.length), 0, ...bytes.slice(at, end));
        break;
      }
      case 5:
        bytes.length = at;
        break;
      case 6:
        bytes.splice(at, 0, ...random.pick(CORPUS));
        break;
      default: {
        // A line repeated into a long one, across --max-line.
        const times = random.int(2, 40);
        const whole = [...bytes];
        for (let i = 1; i < times && bytes.length < 4 * MAX_LINE_BYTES; i++) bytes.push(...whole);
      }
    }
  }
  return bytes;
}

function randomBytes(random: SeededRandom, length: number, isBiased: boolean): number[] {
  return Array.from({ length }, () => (isBiased ? someByte(random) : random.int(0, 255)));
}

/** One write's worth of input: mutated lines, raw noise, telnet storms, or long lines. */
function makePayload(random: SeededRandom): Buffer {
  const bytes: number[] = [];
  const roll = random.next();
  if (roll < 0.55) {
    for (let lines = random.int(1, 4); lines > 0; lines--) bytes.push(...mutate(random, random.pick(CORPUS)), ...random.pick(TERMINATORS));
  } else if (roll < 0.7) {
    bytes.push(...randomBytes(random, random.int(1, 64), true));
  } else if (roll < 0.8) {
    bytes.push(...randomBytes(random, random.int(1, 600), false));
  } else if (roll < 0.9) {
    // Telnet commands between and inside text; sometimes an unfinished subnegotiation.
    for (let parts = random.int(1, 6); parts > 0; parts--) {
      bytes.push(...random.pick(CORPUS.slice(-12)));
      if (random.chance(0.3)) bytes.push(0xff, random.int(0xf0, 0xff));
      if (random.chance(0.1)) bytes.push(0xff, 0xfa, ...randomBytes(random, random.int(0, 40), true));
      bytes.push(...text(`t${random.int(0, 99)}`));
    }
    bytes.push(...random.pick(TERMINATORS));
  } else {
    bytes.push(...randomBytes(random, random.int(MAX_LINE_BYTES - 8, 3 * MAX_LINE_BYTES), random.chance(0.2)).map((b) => (b === 0x0a ? 0x41 : b)));
    bytes.push(0x0a);
  }
  return Buffer.from(bytes);
}

/** Cuts a payload for writing: whole, byte by byte, or at random points. */
function cutForWriting(random: SeededRandom, payload: Buffer): Buffer[] {
  const roll = random.next();
  if (roll < 0.4 || payload.length < 2) return [payload];
  if (roll < 0.5 && payload.length <= 64) return [...payload].map((byte) => Buffer.of(byte));
  return splitAt(payload, Array.from({ length: random.int(1, 6) }, () => random.int(1, payload.length - 1)));
}

// ---------------------------------------------------------------------------------------------
// The fuzzing clients: raw sockets that never parse what they get.

interface FuzzStats {
  connections: number;
  writes: number;
  bytes: number;
  closedByServer: number;
  /** Half-closed connections, reading, that the server had not closed within HALF_CLOSE_LIMIT_MS. */
  halfClosesLeftOpen: number;
}

class FuzzRun {
  readonly stats: FuzzStats = { connections: 0, writes: 0, bytes: 0, closedByServer: 0, halfClosesLeftOpen: 0 };
  readonly sockets = new Set<Socket>();
  readonly #deadline: number;

  constructor(durationMs: number) {
    this.#deadline = performance.now() + durationMs;
  }

  get isOver(): boolean {
    return this.stats.writes >= MAX_WRITES || performance.now() >= this.#deadline;
  }

  /** Destroys every fuzzing socket still open; every wait on one of them then ends. */
  stop(): void {
    for (const socket of this.sockets) socket.destroy();
  }
}

function openSocket(port: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = connectSocket({ host: '127.0.0.1', port });
    socket.once('error', () => resolve(undefined));
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      socket.on('error', () => {}); // a reset is one way for the server to close; 'close' follows
      socket.setNoDelay(true); // small writes stay small segments
      resolve(socket);
    });
  });
}

function write(socket: Socket, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed || socket.writableEnded) return resolve();
    socket.write(bytes, () => resolve());
  });
}

function closed(socket: Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}

/** One fuzzing client: connects, sends payloads until the server or the run ends it, reconnects. */
async function fuzz(run: FuzzRun, random: SeededRandom, port: number): Promise<void> {
  while (!run.isOver) {
    const socket = await openSocket(port);
    if (socket === undefined) {
      await sleep(5);
      continue;
    }
    run.stats.connections++;
    run.sockets.add(socket);
    let isClosedByUs = false;
    socket.once('close', () => {
      run.sockets.delete(socket);
      if (!isClosedByUs) run.stats.closedByServer++;
    });
    // Most read everything; a few never read (the server may cut them as slow consumers).
    const isReading = random.chance(0.95);
    if (isReading) socket.on('data', () => {});
    else socket.pause();
    while (!socket.closed && !run.isOver) {
      for (const chunk of cutForWriting(random, makePayload(random))) {
        run.stats.writes++;
        run.stats.bytes += chunk.length;
        await write(socket, chunk);
        if (random.chance(0.3)) await sleep(random.int(0, 2));
      }
      const ending = random.next();
      if (ending < 0.01) {
        // Half-close: the server answers what it read, then closes (PROTOCOL.md §5.2).
        isClosedByUs = true;
        socket.end();
        const isClosedInTime = await Promise.race([closed(socket).then(() => true), sleep(HALF_CLOSE_LIMIT_MS).then(() => false)]);
        // A paused socket does not read, so it cannot see the server's FIN or reset: only readers count.
        if (!isClosedInTime && isReading && !run.isOver) run.stats.halfClosesLeftOpen++;
        socket.destroy();
      } else if (ending < 0.025) {
        isClosedByUs = true;
        socket.destroy(); // often mid-line
      } else {
        await sleep(random.int(1, 12));
      }
    }
    isClosedByUs = true;
    socket.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// The well-behaved clients.

/**
 * Why a line a well-behaved client received is not one chatd may send it, or null if it is fine.
 * `reserved` maps the well-behaved names to their addresses: nobody else may use them, or one the same (isSameName).
 */
function badServerLine(line: string, reserved: ReadonlyMap<string, string>): string | null {
  const event = EVENT_LINE.exec(line);
  if (event === null) return 'does not start with [ADDR]';
  const addr = event[1]!;
  const rest = event[2]!;
  // The sender's name: its address until it renames, else a name that cannot hold ':'.
  const isAddressName = rest.startsWith(`${addr}:`) || rest.startsWith(`${addr} (private):`);
  const name = isAddressName ? addr : rest.slice(0, rest.search(/ \(private\):|:/));
  const afterName = rest.slice(name.length);
  const body = afterName.startsWith(' (private):') ? afterName.slice(' (private):'.length) : afterName.slice(1);
  if (!isAddressName && (name === '' || 'error' in checkName(name))) return `has the invalid name ${JSON.stringify(name)}`;
  for (const [reservedName, holder] of reserved) {
    if (holder !== addr && isSameName(reservedName, name)) return `is from ${addr} under a well-behaved client's name`;
  }
  if (!afterName.startsWith(':') && !afterName.startsWith(' (private):')) return 'has no ":" after the name';
  if (UNSAFE.test(body)) return 'carries a control, escape or bidi character';
  if (body.length === 0) return 'has an empty text';
  return null;
}

interface WellBehaved {
  readonly client: ChatClient;
  /** Lines of the three well-behaved clients, in the order this one received them. */
  readonly received: string[];
  readonly problems: string[];
}

/** Enough to see what went wrong; a broken sanitizer would otherwise list thousands. */
const MAX_PROBLEMS = 20;

function report(reader: WellBehaved, problem: string): void {
  if (reader.problems.length < MAX_PROBLEMS) reader.problems.push(problem);
}

/**
 * Reads until `done` lines from all three have arrived, checking every line on the way. Never
 * rejects: what went wrong is kept in `problems`, and a silence or a close ends the reading.
 */
async function readUntilDone(reader: WellBehaved, everyone: readonly ChatClient[]): Promise<void> {
  const prefixes = everyone.map((client) => lineFrom(client, ''));
  const doneLines = new Set(everyone.map((client) => lineFrom(client, `${client.name} done`)));
  const reserved = new Map(everyone.map((client) => [client.name, client.addr]));
  let doneSeen = 0;
  while (doneSeen < doneLines.size) {
    let line: string;
    try {
      // nextLine also fails a line that does not end in exactly CRLF, or holds a CR before it.
      line = await reader.client.nextLine(15_000);
    } catch (error) {
      report(reader, String(error));
      if (reader.client.isClosed || !String(error).includes('server line')) return;
      continue; // the malformed line was taken; read on
    }
    const problem = badServerLine(line, reserved);
    if (problem !== null) report(reader, `${JSON.stringify(line)} ${problem}`);
    if (prefixes.some((prefix) => line.startsWith(prefix))) {
      reader.received.push(line);
      if (doneLines.has(line)) doneSeen++;
    }
  }
}

async function chatNumbered(client: ChatClient, random: SeededRandom, run: FuzzRun): Promise<number> {
  let sent = 0;
  while (!run.isOver) {
    await client.send(`${client.name} ${sent++}`);
    await sleep(random.int(10, 40));
  }
  await client.send(`${client.name} done`);
  return sent;
}

/** How many clients the primary last said were online (its connect, leave and kick lines say). */
function onlineNow(logs: readonly LogRecord[]): number | undefined {
  for (let i = logs.length - 1; i >= 0; i--) {
    const online = logs[i]!['online'];
    if (logs[i]!['thread'] === 'primary' && typeof online === 'number') return online;
  }
  return undefined;
}

async function waitUntilOnline(logs: readonly LogRecord[], count: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (onlineNow(logs) !== count) {
    if (performance.now() > deadline) throw new Error(`chatd still reports ${onlineNow(logs)} online after ${timeoutMs} ms; expected ${count}`);
    await sleep(50);
  }
}

function isServerFailure(record: LogRecord): boolean {
  return (
    'raw' in record || // not JSON: a crash trace or an uncaught error
    (typeof record['level'] === 'number' && record['level'] >= 50) || // pino error, fatal
    record['reason'] === 'InternalError' ||
    record['event'] === 'worker-replaced'
  );
}

// ---------------------------------------------------------------------------------------------

describe('chatd under wire fuzz (random bytes and mutated lines from 30 connections)', () => {
  const server = useChatd(['--workers', '2', '--rate-limit', '0', '--max-per-ip', '0', '--max-line', String(MAX_LINE_BYTES)]);

  it('keeps serving, loses no well-behaved line, keeps one order, and returns its memory', async () => {
    console.log(`wire fuzz: seed ${SEED} (replay the inputs with FUZZ_SEED=${SEED})`);
    const random = new SeededRandom(SEED);
    const { port, pid } = server();

    const clients: ChatClient[] = [];
    for (const name of WELL_BEHAVED) clients.push(await connectAs(port, name, clients));
    const readers: WellBehaved[] = clients.map((client) => ({ client, received: [], problems: [] }));
    await sleep(500); // let the fresh process's start-up allocations settle before the baseline
    const rssBefore = readRssMiB(pid);
    const logsBefore = server().logs.length;

    const run = new FuzzRun(FUZZ_MS);
    const started = performance.now();
    const fuzzing = Array.from({ length: FUZZERS }, () => fuzz(run, random.fork(), port));
    const reading = readers.map((reader) => readUntilDone(reader, clients));
    const sentCounts = await Promise.all(clients.map((client) => chatNumbered(client, random.fork(), run)));
    const fuzzMs = performance.now() - started;
    run.stop();
    await Promise.all(fuzzing);
    await Promise.all(reading);

    // Every fuzzing client is gone once the primary counts the three well-behaved ones alone.
    await waitUntilOnline(server().logs, WELL_BEHAVED.length, 10_000);
    await sleep(2000); // the workers free the sockets' buffers; V8 may shrink its heap
    const rssAfter = readRssMiB(pid);
    console.log(
      `wire fuzz: ${run.stats.writes} writes, ${(run.stats.bytes / 1024).toFixed(0)} KiB, ${run.stats.connections} connections ` +
        `(${run.stats.closedByServer} closed by the server) in ${(fuzzMs / 1000).toFixed(1)} s; ` +
        `well-behaved lines sent ${sentCounts.join('/')}; chatd RSS ${rssBefore.toFixed(1)} MiB before, ${rssAfter.toFixed(1)} MiB after ` +
        `(${(rssAfter - rssBefore >= 0 ? '+' : '')}${(rssAfter - rssBefore).toFixed(1)} MiB)`,
    );

    // The fuzz really ran: thousands of writes, and the server closed some of the connections.
    expect(run.stats.writes).toBeGreaterThan(1000);
    expect(run.stats.closedByServer).toBeGreaterThan(0);
    expect(run.stats.halfClosesLeftOpen, 'half-closed connections the server left open').toBe(0);

    // Every line a well-behaved client got was a well-formed server line.
    for (const reader of readers) expect(reader.problems, `${reader.client.name}: malformed lines`).toEqual([]);

    // No well-behaved line lost or doubled, each sender's in its order, and all three saw one sequence.
    const first = readers[0]!.received;
    clients.forEach((sender, s) => {
      const expected = [...Array.from({ length: sentCounts[s]! }, (_, n) => `${sender.name} ${n}`), `${sender.name} done`];
      expect(first.filter((line) => line.startsWith(lineFrom(sender, '')))).toEqual(expected.map((line) => lineFrom(sender, line)));
    });
    for (const reader of readers) expect(reader.received, `${reader.client.name}: the sequence`).toEqual(first);

    // The server still serves a newcomer: its greeting, and `who` lists exactly who is left.
    const dave = await connectAndGreet(port);
    await dave.send('who');
    await dave.expectLines(
      'user list:',
      ...clients.map((client) => `${client.addr}:${client.name}`),
      `${dave.addr}:${dave.addr}`,
    );
    await dave.expectNoLine(100);

    // Alive, nothing logged as a failure, and the memory the fuzz took is given back.
    expect(server().hasExited).toBe(false);
    expect(isProcessAlive(pid)).toBe(true);
    expect(server().logs.slice(logsBefore).filter(isServerFailure)).toEqual([]);
    expect(rssAfter - rssBefore).toBeLessThan(RSS_GROWTH_LIMIT_MIB);
  }, 45_000);
});
