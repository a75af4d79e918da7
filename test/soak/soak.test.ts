// Soak run (issue #4 §2): for 60 s (SOAK_SECONDS shortens it, never lengthens it), 30 to 60
// clients at a time join, chat, rename, ask `who`, `/msg` each other and leave at random, by a
// seeded generator (the seed is printed; SOAK_SEED=N replays the choices, not the timing).
//
// The test keeps a model of who is online under what name, as a log of membership changes in
// the one global order (docs/ARCHITECTURE.md §4). Joins, renames and leaves are made one at a
// time, each confirmed by the server before the next, so the model's order is the server's;
// chat, `/msg` and `who` run concurrently with them and with each other. Every client checks
// its stream against the model as it reads: it must see every membership change after its own
// login, in the model's order, none twice; each `who` must list exactly the model at that point
// of its stream (arrival order included); each chat or private line must carry the sender's
// current name. At the end: every chat line reached every client that was online for it, at the
// same point between membership changes and in the same order for all; every /msg reached its
// recipient; nobody was cut but the clients that went quiet to be timed out; and chatd's memory
// stayed flat after warm-up.
//
// Limits: the defaults (--rate-limit 2, burst 5; --max-per-ip 16), not the test-friendly zeros,
// so that the soak also runs flood control and the per-address counts for every client. The
// clients are paced like people (one line every 0.6 s or more) and spread over six loopback
// addresses, so neither limit is ever reached: any `slow down` or refusal is a failure. The idle
// timeout is 10 s instead of 60 s so that some clients can leave by going quiet within the run.

import { connect as connectSocket, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { isSameName } from '../../protocol/index.ts';
import { ChatClient, socketWire } from '../helpers/chat-client.ts';
import { isProcessAlive, readRssMiB } from '../helpers/process-memory.ts';
import { chooseSeed, SeededRandom } from '../helpers/seeded-random.ts';
import type { ChatdProcess, LogRecord } from '../helpers/start-server.ts';
import { useChatd } from '../helpers/use-chatd.ts';

const DEFAULT_SOAK_SECONDS = 60;
/**
 * SOAK_SECONDS shortens a run by hand (at least 10 s, at most the default). Not a CHATD_* name:
 * chatd refuses CHATD_* variables it does not know, and every chatd a test starts inherits it.
 */
const SOAK_SECONDS = readSoakSeconds();
const SEED = chooseSeed('SOAK_SEED');

const MIN_ONLINE = 30;
const MAX_ONLINE = 60;
const INITIAL_ONLINE = 40;
/** One line per client every 0.6 s at most: under --rate-limit 2 (burst 5) even with a checkpoint's `who`. */
const ACTION_PAUSE_MS = [600, 2000] as const;
/** Six addresses × --max-per-ip 16 = 96 places for at most 60 clients. */
const LOCAL_ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7'] as const;
/**
 * Local ports are chosen by the test, below the kernel's ephemeral range, so that no ADDR is
 * ever used twice in a run: every line names its sender unambiguously.
 */
const FIRST_LOCAL_PORT = 21_000;
const CHECKPOINT_EVERY_MS = 10_000;
/** --idle-timeout: an active client sends a line every 2 s or so, far below it. */
const IDLE_TIMEOUT_SECONDS = 10;
/**
 * A client that goes quiet takes the membership lock this long before its timeout is due, so
 * that no other membership change can fall between: the model then knows the timeout's place.
 */
const IDLE_LOCK_MARGIN_MS = 1500;
/** At most this many clients on their way to a timeout at once: each holds the lock ~1.5 s. */
const MAX_GOING_IDLE = 2;
const RSS_EVERY_MS = 3000;
/** Generous: the V8 heap breathes by tens of MB; a leak of 30-60 busy clients' state grows past it. */
const RSS_FLAT_LIMIT_MIB = 40;
/** A reply or an event on loopback takes milliseconds; this is a hang. */
const REPLY_TIMEOUT_MS = 5000;
const NAME_STEMS = ['ana', 'bo', 'chen', 'dora', 'eve', 'fynn', 'gus', 'hana', 'ivo', 'kai', 'lea', 'zoë', 'jürgen', 'søren', 'ñandu', '李', 'ólafur', '😀'];

function readSoakSeconds(): number {
  const given = process.env['SOAK_SECONDS'];
  if (given === undefined || given.trim() === '') return DEFAULT_SOAK_SECONDS;
  const seconds = Number(given);
  if (!Number.isFinite(seconds) || seconds < 10) throw new Error(`SOAK_SECONDS must be a number of seconds from 10 to ${DEFAULT_SOAK_SECONDS}; got ${given}`);
  return Math.min(seconds, DEFAULT_SOAK_SECONDS);
}

// ---------------------------------------------------------------------------------------------
// The model: membership changes in the global order, and who is online after each.

interface Member {
  readonly addr: string;
  readonly name: string;
}

interface Change {
  /** The exact line every other client online receives for it. */
  readonly line: string;
  readonly kind: 'login' | 'rename' | 'logout';
  readonly addr: string;
}

/** The membership log: entry v is change v and the members online after it; entry 0 is the empty room. */
class Model {
  readonly #changes: (Change | undefined)[] = [undefined];
  readonly #states: (readonly Member[])[] = [[]];

  /** The number of the last change. */
  get version(): number {
    return this.#changes.length - 1;
  }

  get online(): readonly Member[] {
    return this.#states[this.version]!;
  }

  change(version: number): Change | undefined {
    return this.#changes[version];
  }

  stateAt(version: number): readonly Member[] {
    return this.#states[version]!;
  }

  /** `who` at that point: `ADDR:NAME` per member, in arrival order (PROTOCOL.md §5.3). */
  whoAt(version: number): string[] {
    return this.stateAt(version).map((member) => `${member.addr}:${member.name}`);
  }

  login(addr: string): number {
    return this.#push({ kind: 'login', addr, line: `[${addr}]${addr}:login` }, [...this.online, { addr, name: addr }]);
  }

  rename(addr: string, name: string): number {
    const before = this.#member(addr);
    const after = this.online.map((member) => (member.addr === addr ? { addr, name } : member));
    return this.#push({ kind: 'rename', addr, line: `[${addr}]${before.name}:renamed to ${name}` }, after);
  }

  logout(addr: string): number {
    const before = this.#member(addr);
    return this.#push({ kind: 'logout', addr, line: `[${addr}]${before.name}:login out` }, this.online.filter((member) => member.addr !== addr));
  }

  timeout(addr: string): number {
    const before = this.#member(addr);
    return this.#push({ kind: 'logout', addr, line: `[${addr}]${before.name}:time out leave out` }, this.online.filter((member) => member.addr !== addr));
  }

  /** Takes back a login whose connection failed before the server saw it. */
  undoLogin(version: number): void {
    if (version !== this.version || this.#changes[version]?.kind !== 'login') throw new Error('undoLogin: not the last change');
    this.#changes.pop();
    this.#states.pop();
  }

  /** Who holds `name`, or one the same as it (PROTOCOL.md §4), at that point. */
  holderAt(version: number, name: string): Member | undefined {
    return this.stateAt(version).find((member) => isSameName(member.name, name));
  }

  #member(addr: string): Member {
    const member = this.online.find((candidate) => candidate.addr === addr);
    if (member === undefined) throw new Error(`model: ${addr} is not online`);
    return member;
  }

  #push(change: Change, state: readonly Member[]): number {
    this.#changes.push(change);
    this.#states.push(state);
    return this.version;
  }
}

/** Runs one task at a time, in call order: the membership changes. */
class Mutex {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

// ---------------------------------------------------------------------------------------------
// The clients.

type Pending =
  | { readonly kind: 'join'; stage: 'login' | 'greeting' }
  | { readonly kind: 'rename'; readonly name: string; readonly outcome: 'changed' | 'same' | 'taken' }
  | { readonly kind: 'chat'; readonly key: string }
  | { readonly kind: 'msg'; readonly to: string; readonly key: string }
  | { readonly kind: 'who' };

/** A chat or private line as one client received it: which line, and after which membership change. */
interface Receipt {
  readonly key: string;
  readonly version: number;
}

type LeaveHow = 'quit' | 'end' | 'destroy' | 'idle';

const IDLE_ERROR_LINE = `error: no line from you for ${IDLE_TIMEOUT_SECONDS} s; disconnected (send any line to stay)`;
/** A client quiet for half the timeout is warned (#10 §7): the ones meant to go quiet, and any that pause at the end. */
const IDLE_WARNING_LINE = `*** you will be timed out in ${IDLE_TIMEOUT_SECONDS / 2} s; send any line to stay`;
const CHAT_LINE = /^\[([^\]]+)\]([^:]+):say (\d+)\.(\d+)$/;
const PRIVATE_LINE = /^\[([^\]]+)\]([^:]+) \(private\):psst (\d+)\.(\d+)$/;

class Soak {
  readonly model = new Model();
  readonly membership = new Mutex();
  readonly actors: Actor[] = [];
  readonly bySession = new Map<number, Actor>();
  readonly problems: string[] = [];
  /** Where each chat line fell in the global order: after this membership change (its sender's echo says). */
  readonly chatVersion = new Map<string, number>();
  /** Private lines the server accepted (`msg ok`), and where each must arrive. */
  readonly privates: { readonly key: string; readonly to: string; readonly version: number }[] = [];
  readonly random: SeededRandom;
  readonly port: number;
  readonly startedAt = performance.now();
  /** Set when the run winds down, or at the first failure: no client starts anything new. */
  isStopping = false;
  #nextLocalPort = FIRST_LOCAL_PORT;
  #nextSession = 1;
  readonly #seenWaiters = new Map<number, () => void>();

  constructor(port: number, random: SeededRandom) {
    this.port = port;
    this.random = random;
  }

  get online(): Actor[] {
    return this.actors.filter((actor) => actor.isOnline);
  }

  /** Online and not on its way to a timeout: who may still leave while the room stays at MIN_ONLINE. */
  get staying(): number {
    return this.online.filter((actor) => !actor.isGoingIdle).length;
  }

  fail(problem: string): void {
    if (this.problems.length < 30) this.problems.push(problem);
    this.isStopping = true; // one inconsistency makes the rest noise
  }

  /** A client consumed membership change `version`: the one waiting for it may go on. */
  noteSeen(version: number): void {
    this.#seenWaiters.get(version)?.();
    this.#seenWaiters.delete(version);
  }

  /** Resolves when some client has received change `version`. */
  seenBySomeone(version: number): Promise<void> {
    return new Promise((resolve) => this.#seenWaiters.set(version, resolve));
  }

  /** Joins one more client and names it; a no-op past MAX_ONLINE. */
  join(): Promise<void> {
    return this.membership.run(async () => {
      if (this.isStopping || this.online.length >= MAX_ONLINE) return;
      const ip = LOCAL_ADDRESSES.map((address) => ({ address, count: this.online.filter((actor) => actor.ip === address).length }))
        .sort((a, b) => a.count - b.count)[0]!.address;
      for (;;) {
        const localPort = this.#nextLocalPort++;
        const addr = `${ip}:${localPort}`;
        const version = this.model.login(addr);
        const socket = await openSocket(this.port, ip, localPort);
        if (socket === 'in use') {
          this.model.undoLogin(version); // the server never saw it
          continue;
        }
        const actor = new Actor(this, this.#nextSession++, ip, addr, socket, version, this.random.fork());
        this.actors.push(actor);
        this.bySession.set(actor.session, actor);
        await actor.expect({ kind: 'join', stage: 'login' }, 'its login and greeting');
        if (this.isStopping) return; // it failed, or the run is over: nothing more to ask
        await this.#rename(actor, actor.freshName());
        if (!this.isStopping) void actor.live();
        return;
      }
    });
  }

  rename(actor: Actor): Promise<void> {
    return this.membership.run(async () => {
      if (this.isStopping || !actor.isOnline) return;
      const roll = actor.random.next();
      const others = this.model.online.filter((member) => member.addr !== actor.addr);
      // Mostly a fresh name; sometimes its own (exactly, or in capitals), or another's in capitals.
      const name =
        roll < 0.7 ? actor.freshName() : roll < 0.8 ? actor.name : roll < 0.9 ? actor.name.toUpperCase() : actor.random.pick(others).name.toUpperCase();
      await this.#rename(actor, name);
    });
  }

  /** Under the membership lock. The model predicts the outcome; the client's reader checks it. */
  async #rename(actor: Actor, name: string): Promise<void> {
    const holder = this.model.holderAt(this.model.version, name);
    const outcome = name === actor.name ? 'same' : holder !== undefined && holder.addr !== actor.addr ? 'taken' : 'changed';
    if (outcome === 'changed') {
      this.model.rename(actor.addr, name);
      actor.name = name;
    }
    await actor.ask(actor.random.chance(0.5) ? `rename|${name}` : `/rename ${name}`, { kind: 'rename', name, outcome }, `rename to ${name}`);
  }

  /** Makes the client leave, one of three ways; false if the room is already at its minimum. */
  leave(actor: Actor): Promise<boolean> {
    return this.membership.run(async () => {
      if (this.isStopping || this.staying <= MIN_ONLINE) return false;
      // It has read every change so far, so the only lines it may miss are chat lines.
      await actor.caughtUp(this.model.version);
      const how: LeaveHow = actor.random.pick(['quit', 'quit', 'end', 'destroy', 'destroy']);
      const version = this.model.logout(actor.addr);
      const seen = this.seenBySomeone(version);
      actor.leave(version, how);
      if (how === 'quit') await actor.client.send('/quit');
      else if (how === 'end') actor.client.end(); // PROTOCOL.md §5.2: replies first, then the server closes
      else actor.client.destroy();
      await withTimeout(seen, `nobody saw ${actor.label} leave (${how})`);
      await withTimeout(actor.readerDone, `${actor.label} was not closed after leaving (${how})`);
      return true;
    });
  }

  /**
   * Leaves by going quiet (PROTOCOL.md §5.2): sends nothing until chatd times it out. Takes the
   * membership lock IDLE_LOCK_MARGIN_MS before the timeout is due and holds it until the others
   * saw it, so the timeout falls between the same two changes in the model as in the server.
   */
  async goIdle(actor: Actor): Promise<boolean> {
    const dueAt = actor.lastSentAt + IDLE_TIMEOUT_SECONDS * 1000; // chatd's clock starts later, never earlier
    const isLate = dueAt - performance.now() < IDLE_LOCK_MARGIN_MS + 500;
    const going = this.online.filter((other) => other.isGoingIdle).length;
    if (this.isStopping || isLate || going >= MAX_GOING_IDLE || this.staying <= MIN_ONLINE || this.secondsLeft() < IDLE_TIMEOUT_SECONDS + 3) return false;
    actor.isGoingIdle = true;
    await sleep(dueAt - IDLE_LOCK_MARGIN_MS - performance.now());
    return this.membership.run(async () => {
      if (performance.now() >= dueAt) {
        this.fail(`${actor.label}: the membership lock came after its idle timeout was due; the order of changes is unknown (an overloaded machine?)`);
        return true;
      }
      const version = this.model.timeout(actor.addr);
      const seen = this.seenBySomeone(version);
      actor.leave(version, 'idle');
      const timeoutMs = IDLE_LOCK_MARGIN_MS + REPLY_TIMEOUT_MS;
      await withTimeout(seen, `nobody saw ${actor.label} time out`, timeoutMs);
      await withTimeout(actor.readerDone, `${actor.label} was not closed after its idle timeout`, timeoutMs);
      return true;
    });
  }

  secondsLeft(): number {
    return SOAK_SECONDS - (performance.now() - this.startedAt) / 1000;
  }

  /** Under the lock, once everyone has read every change: a `who` must list exactly the model. */
  checkpoint(): Promise<void> {
    return this.membership.run(async () => {
      const version = this.model.version;
      await Promise.all(this.online.map((actor) => actor.caughtUp(version)));
      const deadline = performance.now() + REPLY_TIMEOUT_MS;
      let asker = this.online.find((actor) => !actor.isBusy);
      while (asker === undefined && performance.now() < deadline) {
        await sleep(20);
        asker = this.online.find((actor) => !actor.isBusy);
      }
      if (asker === undefined) return this.fail(`checkpoint at change ${version}: no client was free to ask who`);
      asker.isBusy = true;
      try {
        await asker.ask('who', { kind: 'who' }, 'a checkpoint who');
        expect(asker.lastWho, `${asker.label}: who at change ${version}`).toEqual(this.model.whoAt(version));
      } finally {
        asker.isBusy = false;
      }
    });
  }

  /** `/msg` to someone the client believes online (by its own stream), sometimes to nobody. */
  async privateMessage(actor: Actor): Promise<void> {
    const others = this.model.stateAt(actor.version).filter((member) => member.addr !== actor.addr);
    const name = actor.random.chance(0.1) ? `nobody${actor.session}` : actor.random.pick(others).name;
    const to = actor.random.chance(0.3) ? name.toUpperCase() : name; // names match ignoring case
    const key = `${actor.session}.${actor.sent++}`;
    await actor.ask(`/msg ${to} psst ${key}`, { kind: 'msg', to, key }, `/msg ${to}`);
  }
}

function openSocket(port: number, localAddress: string, localPort: number): Promise<Socket | 'in use'> {
  return new Promise((resolve, reject) => {
    const socket = connectSocket({ host: '127.0.0.1', port, localAddress, localPort });
    socket.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve('in use') : reject(error)));
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

async function withTimeout<T>(promise: Promise<T>, what: string, timeoutMs = REPLY_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

class Actor {
  readonly session: number;
  readonly ip: string;
  readonly addr: string;
  readonly client: ChatClient;
  readonly random: SeededRandom;
  /** The change that logged it in, and the one that logged it out. */
  readonly joinVersion: number;
  leaveVersion: number | undefined;
  leaveHow: LeaveHow | undefined;
  /** Its name in the model. */
  name: string;
  /** The last membership change it has read from its stream. */
  version: number;
  isBusy = false;
  /** It sends nothing more: it waits to be timed out. */
  isGoingIdle = false;
  /** When its last line was handed to the kernel. */
  lastSentAt = performance.now();
  sent = 0;
  readonly chats: Receipt[] = [];
  readonly privates: Receipt[] = [];
  lastWho: string[] = [];
  readonly readerDone: Promise<void>;
  readonly #soak: Soak;
  #renames = 0;
  #pending: { readonly what: Pending; readonly done: () => void } | undefined;
  #whoExpected: string[] | undefined;
  #whoReceived: string[] = [];
  #versionWaiters: { readonly version: number; readonly done: () => void }[] = [];

  constructor(soak: Soak, session: number, ip: string, addr: string, socket: Socket, joinVersion: number, random: SeededRandom) {
    this.#soak = soak;
    this.session = session;
    this.ip = ip;
    this.addr = addr;
    this.name = addr;
    this.random = random;
    this.joinVersion = joinVersion;
    this.version = joinVersion - 1;
    this.client = new ChatClient(socketWire(socket), { keepRawLines: false });
    if (this.client.addr !== addr) throw new Error(`connected as ${this.client.addr}, not ${addr}`);
    this.readerDone = this.#read();
  }

  get label(): string {
    return `client ${this.session} (${this.addr}, ${this.name})`;
  }

  get isOnline(): boolean {
    return this.leaveVersion === undefined;
  }

  freshName(): string {
    const stem = NAME_STEMS[this.session % NAME_STEMS.length]!;
    return `${stem}${this.session}${this.#renames++ === 0 ? '' : `_${this.#renames}`}`;
  }

  leave(version: number, how: LeaveHow): void {
    this.leaveVersion = version;
    this.leaveHow = how;
  }

  /** Waits for the reply (or event) `what` describes, without sending anything. */
  expect(what: Pending, description: string): Promise<void> {
    if (this.#pending !== undefined) throw new Error(`${this.label}: two requests at once`);
    const replied = new Promise<void>((done) => {
      this.#pending = { what, done };
    });
    return withTimeout(replied, `${this.label}: ${description}`).catch((error: unknown) => this.#soak.fail(String(error)));
  }

  /** Sends one line and waits until its reply has been read and checked. */
  async ask(line: string, what: Pending, description: string): Promise<void> {
    const replied = this.expect(what, description);
    await this.client.send(line);
    this.lastSentAt = performance.now();
    await replied;
  }

  /** Resolves once it has read membership change `version`. */
  caughtUp(version: number): Promise<void> {
    if (this.version >= version) return Promise.resolve();
    const reached = new Promise<void>((done) => this.#versionWaiters.push({ version, done }));
    return withTimeout(reached, `${this.label} never read change ${version}: it is at ${this.version}`).catch((error: unknown) =>
      this.#soak.fail(String(error)),
    );
  }

  /** Its life: a pause like a person's, then one thing, until it leaves or the soak ends. */
  async live(): Promise<void> {
    while (!this.#soak.isStopping && this.isOnline) {
      await sleep(this.random.int(...ACTION_PAUSE_MS));
      if (this.#soak.isStopping || this.isBusy || !this.isOnline) continue;
      this.isBusy = true;
      try {
        await this.#act();
      } finally {
        this.isBusy = false;
      }
    }
  }

  async #act(): Promise<void> {
    const roll = this.random.next();
    const crowded = this.#soak.online.length > targetOnline(this.#soak);
    // Fewer than one in ten actions is a leave, more when the room is above its target size.
    if (roll < (crowded ? 0.2 : 0.05)) {
      const hasLeft = this.random.chance(0.15) ? await this.#soak.goIdle(this) : await this.#soak.leave(this);
      if (hasLeft) return;
    }
    if (roll < 0.55) {
      const key = `${this.session}.${this.sent++}`;
      return this.ask(`say ${key}`, { kind: 'chat', key }, `the echo of say ${key}`);
    }
    if (roll < 0.7) return this.#soak.privateMessage(this);
    if (roll < 0.85) return this.ask(this.random.chance(0.5) ? 'who' : '/who', { kind: 'who' }, 'who');
    return this.#soak.rename(this);
  }

  async #read(): Promise<void> {
    for (;;) {
      let line: string;
      try {
        line = await this.client.nextLine(60_000);
      } catch (error) {
        if (this.client.isClosed) break;
        this.#soak.fail(`${this.label}: ${String(error)}`);
        continue;
      }
      try {
        this.#take(line);
      } catch (error) {
        this.#soak.fail(`${this.label}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (this.isOnline && !this.#soak.isStopping) this.#soak.fail(`${this.label}: the server closed the connection`);
  }

  /** Checks one line against the model, in stream order. Throws what is wrong. */
  #take(line: string): void {
    const model = this.#soak.model;
    if (this.#whoExpected !== undefined) return this.#takeWhoEntry(line);
    const pending = this.#pending?.what;

    // The next membership change, exactly. (Its own rename and leave never come: it gets `rename ok` instead.)
    const next = model.change(this.version + 1);
    if (next !== undefined && line === next.line) {
      this.#advance();
      if (next.addr === this.addr && next.kind === 'login') {
        if (pending?.kind !== 'join' || pending.stage !== 'login') throw new Error(`its own login came unasked: ${line}`);
        pending.stage = 'greeting';
      }
      return;
    }
    if (pending?.kind === 'join') {
      if (pending.stage !== 'greeting' || line !== `[${this.addr}]${this.addr}:I am here`) throw new Error(`expected its greeting, got ${JSON.stringify(line)}`);
      return this.#settle();
    }

    if (line === IDLE_WARNING_LINE) return;

    if (line === IDLE_ERROR_LINE) {
      if (this.leaveHow !== 'idle') throw new Error(`timed out, though it was not meant to go quiet (at change ${this.version})`);
      // Its last line: it has seen everything before its timeout, and is told why, not `time out leave out`.
      if (this.version !== this.leaveVersion! - 1) throw new Error(`timed out at change ${this.version}, expected at ${this.leaveVersion! - 1}`);
      return;
    }

    const chat = CHAT_LINE.exec(line);
    if (chat !== null) {
      const key = `${chat[3]}.${chat[4]}`;
      this.#checkSender(chat[1]!, chat[2]!, Number(chat[3]), line);
      this.chats.push({ key, version: this.version });
      if (chat[1] === this.addr) {
        if (pending?.kind !== 'chat' || pending.key !== key) throw new Error(`its own chat line came unasked: ${line}`);
        this.#soak.chatVersion.set(key, this.version);
        this.#settle();
      }
      return;
    }
    const privateLine = PRIVATE_LINE.exec(line);
    if (privateLine !== null) {
      this.#checkSender(privateLine[1]!, privateLine[2]!, Number(privateLine[3]), line);
      this.privates.push({ key: `${privateLine[3]}.${privateLine[4]}`, version: this.version });
      return;
    }

    switch (pending?.kind) {
      case 'rename':
        return this.#takeRenameReply(line, pending);
      case 'msg': {
        // Whether NAME is online is decided where the reply stands in the order: at this change.
        const holder = model.holderAt(this.version, pending.to);
        const expected = holder === undefined ? `error: nobody named ${pending.to} is online; try who` : 'msg ok';
        if (line !== expected) throw new Error(`after /msg ${pending.to} at change ${this.version}, expected ${JSON.stringify(expected)}, got ${JSON.stringify(line)}`);
        if (holder !== undefined) this.#soak.privates.push({ key: pending.key, to: holder.addr, version: this.version });
        return this.#settle();
      }
      case 'who':
        if (line !== 'user list:') break;
        this.#whoExpected = model.whoAt(this.version);
        this.#whoReceived = [];
        if (this.#whoExpected.length === 0) throw new Error('the model has nobody online, not even this client');
        return;
    }
    throw new Error(`unexpected line ${JSON.stringify(line)} (waiting for ${pending?.kind ?? 'nothing'}, at change ${this.version})`);
  }

  #takeRenameReply(line: string, pending: Extract<Pending, { kind: 'rename' }>): void {
    if (pending.outcome === 'taken') {
      if (line !== `error: the name ${pending.name} is taken; pick another`) throw new Error(`rename to a taken name ${pending.name}: got ${JSON.stringify(line)}`);
      return this.#settle();
    }
    if (line !== 'rename ok') throw new Error(`rename to ${pending.name} (${pending.outcome}): got ${JSON.stringify(line)}`);
    if (pending.outcome === 'changed') {
      // Its own rename is the next change, in its place in the order; the others get `renamed to`.
      const next = this.#soak.model.change(this.version + 1);
      if (next?.kind !== 'rename' || next.addr !== this.addr) throw new Error(`rename ok at change ${this.version}, but the next change is ${JSON.stringify(next)}`);
      this.#advance();
    }
    this.#settle();
  }

  #takeWhoEntry(line: string): void {
    const expected = this.#whoExpected!;
    this.#whoReceived.push(line);
    if (this.#whoReceived.length < expected.length) return;
    this.#whoExpected = undefined;
    this.lastWho = this.#whoReceived;
    // The same as the model at this point of the stream, in arrival order.
    if (JSON.stringify(this.lastWho) !== JSON.stringify(expected)) {
      throw new Error(`who at change ${this.version}:\n  got      ${this.lastWho.join(' ')}\n  expected ${expected.join(' ')}`);
    }
    this.#settle();
  }

  /** A chat or private line must come from a client online at this point, under its current name. */
  #checkSender(addr: string, name: string, session: number, line: string): void {
    const sender = this.#soak.bySession.get(session);
    if (sender?.addr !== addr) throw new Error(`a line with another client's number: ${JSON.stringify(line)}`);
    const current = this.#soak.model.stateAt(this.version).find((member) => member.addr === addr);
    if (current?.name !== name) {
      throw new Error(`${JSON.stringify(line)} at change ${this.version}: the sender is ${current === undefined ? 'not online' : `named ${current.name}`}`);
    }
  }

  #advance(): void {
    this.version++;
    this.#soak.noteSeen(this.version);
    const reached = this.#versionWaiters.filter((waiter) => waiter.version <= this.version);
    this.#versionWaiters = this.#versionWaiters.filter((waiter) => waiter.version > this.version);
    for (const waiter of reached) waiter.done();
  }

  #settle(): void {
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.done();
  }
}

/** The room's size drifts between MIN_ONLINE and MAX_ONLINE: one slow wave every 20 s. */
function targetOnline(soak: Soak): number {
  const phase = ((performance.now() - soak.startedAt) / 20_000) * 2 * Math.PI;
  return Math.round((MIN_ONLINE + MAX_ONLINE) / 2 + ((MAX_ONLINE - MIN_ONLINE) / 2) * Math.sin(phase));
}

// ---------------------------------------------------------------------------------------------
// The checks at the end.

/** Every chat line reached every client online for it, at the same point, in one order. */
function checkChatDelivery(soak: Soak): string[] {
  const problems: string[] = [];
  for (const actor of soak.actors) {
    for (const { key, version } of actor.chats) {
      const expected = soak.chatVersion.get(key);
      if (expected !== version) problems.push(`${actor.label} got say ${key} after change ${version}; its sender got it after change ${expected}`);
    }
  }
  // The lines of each stretch between two membership changes, in the order the sender's echoes say.
  const stretches = new Map<number, Set<string>>();
  for (const [key, version] of soak.chatVersion) stretches.set(version, (stretches.get(version) ?? new Set()).add(key));
  for (const [version, keys] of stretches) {
    let reference: string[] | undefined;
    for (const actor of soak.actors) {
      const isOnline = actor.joinVersion <= version && (actor.leaveVersion === undefined || version < actor.leaveVersion);
      if (!isOnline) continue;
      const got = actor.chats.filter((receipt) => receipt.version === version).map((receipt) => receipt.key);
      // Who left by dropping its socket may miss the end of its last stretch, and only that.
      const isPartial = actor.leaveHow === 'destroy' && version === actor.leaveVersion! - 1;
      if (!isPartial && got.length !== keys.size) {
        const missing = [...keys].filter((key) => !got.includes(key));
        problems.push(`${actor.label} after change ${version}: missing ${missing.join(', ') || '-'}; got ${got.length} of ${keys.size}`);
        continue;
      }
      if (new Set(got).size !== got.length) problems.push(`${actor.label} after change ${version}: a line twice`);
      if (reference === undefined && !isPartial) reference = got;
      else if (reference !== undefined && JSON.stringify(got) !== JSON.stringify(isPartial ? reference.slice(0, got.length) : reference)) {
        problems.push(`${actor.label} after change ${version}: order ${got.join(' ')}; another client: ${reference.join(' ')}`);
      }
    }
  }
  return problems;
}

/** Every accepted /msg reached its recipient once, at the point the sender's `msg ok` says; nothing else arrived. */
function checkPrivateDelivery(soak: Soak): string[] {
  const problems: string[] = [];
  const expected = new Map(soak.privates.map((message) => [message.key, message]));
  for (const actor of soak.actors) {
    for (const { key, version } of actor.privates) {
      const message = expected.get(key);
      if (message === undefined || message.to !== actor.addr || message.version !== version) {
        problems.push(`${actor.label} got psst ${key} after change ${version}; expected ${JSON.stringify(message)}`);
      }
    }
  }
  for (const message of soak.privates) {
    const recipient = soak.actors.find((actor) => actor.addr === message.to)!;
    const count = recipient.privates.filter((receipt) => receipt.key === message.key).length;
    const mayMiss = recipient.leaveHow === 'destroy' && message.version === recipient.leaveVersion! - 1;
    if (count > 1 || (count === 0 && !mayMiss)) problems.push(`${recipient.label} got psst ${message.key} ${count} times`);
  }
  return problems;
}

/** Nobody may be cut (not flooding, not slow, not refused) but the clients that went quiet, for that. */
function isServerFailure(record: LogRecord, quiet: ReadonlySet<string>): boolean {
  return (
    'raw' in record ||
    (typeof record['level'] === 'number' && record['level'] >= 50) ||
    (record['event'] === 'kick' && !(record['reason'] === 'IdleTimeout' && quiet.has(String(record['addr'])))) ||
    record['event'] === 'worker-replaced'
  );
}

// ---------------------------------------------------------------------------------------------

describe(`chatd soak (${SOAK_SECONDS} s, ${MIN_ONLINE}-${MAX_ONLINE} clients, default limits)`, () => {
  const server = useChatd(['--workers', '2', '--idle-timeout', String(IDLE_TIMEOUT_SECONDS)]);

  it(
    'keeps who, names, arrivals and leaves consistent with the model, loses nothing, and holds its memory flat',
    async () => {
      console.log(`soak: seed ${SEED} (replay the choices with SOAK_SEED=${SEED}); ${SOAK_SECONDS} s`);
      const chatd: ChatdProcess = server();
      const soak = new Soak(chatd.port, new SeededRandom(SEED));
      const started = performance.now();
      const elapsed = (): number => (performance.now() - started) / 1000;
      const warmUpSeconds = Math.min(15, SOAK_SECONDS / 4);
      const rss: { readonly second: number; readonly mib: number }[] = [];
      const sampleRss = (): void => {
        rss.push({ second: Math.round(elapsed()), mib: readRssMiB(chatd.pid) });
      };
      const sampler = setInterval(sampleRss, RSS_EVERY_MS);
      const checkpoints = setInterval(() => void soak.checkpoint().catch((error: unknown) => soak.fail(String(error))), CHECKPOINT_EVERY_MS);
      try {
        sampleRss();
        for (let i = 0; i < INITIAL_ONLINE && !soak.isStopping; i++) await soak.join();
        // New clients keep arriving whenever the room is below its drifting target.
        while (elapsed() < SOAK_SECONDS && !soak.isStopping) {
          await sleep(soak.random.int(50, 400));
          if (soak.online.length < targetOnline(soak)) await soak.join();
        }
      } finally {
        clearInterval(sampler);
        clearInterval(checkpoints);
      }
      const activeSeconds = elapsed();

      // Let every client finish what it was doing, then one last look at the whole room.
      const hasFailed = soak.problems.length > 0;
      soak.isStopping = true;
      const deadline = performance.now() + REPLY_TIMEOUT_MS;
      while (soak.actors.some((actor) => actor.isBusy) && performance.now() < deadline) await sleep(20);
      if (!hasFailed) await soak.checkpoint();
      sampleRss();

      const sessions = soak.actors.length;
      const left = soak.actors.filter((actor) => !actor.isOnline);
      const chats = soak.chatVersion.size;
      console.log(
        `soak: ${activeSeconds.toFixed(1)} s, ${sessions} clients joined, ${left.length} left ` +
          `(${['quit', 'end', 'destroy', 'idle'].map((how) => `${left.filter((actor) => actor.leaveHow === how).length} ${how}`).join(', ')}), ` +
          `${soak.online.length} online at the end; ${soak.model.version} membership changes, ${chats} chat lines, ${soak.privates.length} private`,
      );
      console.log(`soak: chatd RSS (s: MiB) ${rss.map((sample) => `${sample.second}: ${sample.mib.toFixed(1)}`).join(', ')}`);

      try {
        expect(soak.problems).toEqual([]);
        expect(checkChatDelivery(soak)).toEqual([]);
        expect(checkPrivateDelivery(soak)).toEqual([]);
        const quiet = new Set(left.filter((actor) => actor.leaveHow === 'idle').map((actor) => actor.addr));
        expect(chatd.logs.filter((record) => isServerFailure(record, quiet))).toEqual([]);
        expect(chatd.logs.filter((record) => record['reason'] === 'IdleTimeout').length, 'idle timeouts logged').toBe(quiet.size);
        expect(chatd.hasExited).toBe(false);
        expect(isProcessAlive(chatd.pid)).toBe(true);
        // The run did what it says: churn, a room of 30 to 60, and plenty of chat.
        expect(sessions).toBeGreaterThan(INITIAL_ONLINE + 10);
        expect(chats).toBeGreaterThan(sessions);

        // Flat after warm-up: every later sample within the bound of the first one past warm-up.
        const baseline = rss.find((sample) => sample.second >= warmUpSeconds);
        expect(baseline, 'an RSS sample after warm-up').toBeDefined();
        const growth = Math.max(...rss.filter((sample) => sample.second >= baseline!.second).map((sample) => sample.mib)) - baseline!.mib;
        console.log(`soak: RSS baseline ${baseline!.mib.toFixed(1)} MiB at ${baseline!.second} s; largest growth after it +${growth.toFixed(1)} MiB`);
        expect(growth).toBeLessThan(RSS_FLAT_LIMIT_MIB);
      } finally {
        for (const actor of soak.actors) actor.client.destroy();
      }
    },
    (SOAK_SECONDS + 20) * 1000,
  );
});
