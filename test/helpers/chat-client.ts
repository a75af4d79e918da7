// Named actors for the end-to-end tests (as irctest's clients): a real connection to chatd (TCP,
// TLS, or a WebSocket through Node's own WebSocket), the server's lines queued as they arrive, and
// expectations that wait with deadlines, never sleeps. Every server line must end in exactly
// CRLF: a line that does not fails the read that takes it.

import { connect as connectSocket, type Socket } from 'node:net';
import { connect as connectTlsSocket } from 'node:tls';
import { expect } from 'vitest';
import { formatAddress } from '../../protocol/index.ts';
import type { ChatdProcess, LogRecord } from './start-server.ts';

const LF = 0x0a;
const DEFAULT_TIMEOUT_MS = 5000;
const CUT_OFF = 'was cut off by the close (no CRLF)';

/** One server line as received: its text without the terminator, and what was wrong with it. */
interface ReceivedLine {
  readonly text: string;
  readonly raw: string;
  readonly problem: string | null;
}

interface LineWaiter {
  readonly resolve: (line: ReceivedLine) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export interface ClientOptions {
  /**
   * Keep every line with its terminator in `rawLines` (the default). The bulk tests turn it off:
   * tens of megabytes of echoes need not stay in memory twice.
   */
  readonly keepRawLines?: boolean;
  /** Connect from this local address (127.0.0.2 …), to be another IP address to the server. */
  readonly localAddress?: string;
}

/** Clients connected since the last disconnectAll(), closed or not. */
const connected = new Set<ChatClient>();

/** What a ChatClient reads and writes through: a socket (TCP, TLS) or a WebSocket. */
export interface ClientWire {
  /** `ip:port` of this end as the server shows it in `[ADDR]`. */
  readonly addr: string;
  readonly isWritable: boolean;
  start(events: { data(chunk: Buffer): void; error(error: Error): void; close(): void }): void;
  write(bytes: Buffer | string, done: () => void): void;
  pause(): void;
  resume(): void;
  end(): void;
  destroy(): void;
}

export function socketWire(socket: Socket): ClientWire {
  socket.setNoDelay(true); // one test write, one segment: the framing tests depend on it
  return {
    addr: formatAddress(socket.localAddress ?? '?', socket.localPort ?? 0),
    get isWritable() {
      return !socket.destroyed && !socket.writableEnded;
    },
    start(events) {
      socket.on('data', events.data);
      socket.on('error', events.error);
      socket.once('close', events.close);
    },
    write: (bytes, done) => socket.write(bytes, () => done()),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    end: () => socket.end(),
    destroy: () => socket.destroy(),
  };
}

export class ChatClient {
  /** `ip:port` of this end, exactly as the server shows it in `[ADDR]`. */
  readonly addr: string;
  /** The name the server knows it by, as far as the test has told it (see connectAs). */
  name: string;
  /** Used in failure messages: the actor's name once it has one. */
  label: string;
  /** Every line received, terminator included. */
  readonly rawLines: string[] = [];
  readonly #wire: ClientWire;
  readonly #keepRawLines: boolean;
  readonly #queue: ReceivedLine[] = [];
  #head = 0;
  /** Bytes of a line whose LF has not arrived yet. */
  #partial: Buffer[] = [];
  #waiter: LineWaiter | undefined;
  #isClosed = false;
  #closeError: Error | undefined;
  readonly #closed: Promise<void>;

  constructor(wire: ClientWire, options: ClientOptions) {
    this.#wire = wire;
    this.#keepRawLines = options.keepRawLines ?? true;
    this.addr = wire.addr;
    this.name = this.addr;
    this.label = this.addr;
    let onClose: () => void = () => {};
    wire.start({
      data: (chunk) => this.#takeData(chunk),
      error: (error) => {
        this.#closeError = error; // a reset is one way for the server to close: expectClosed says so
      },
      close: () => onClose(),
    });
    this.#closed = new Promise((resolve) => {
      onClose = () => {
        this.#isClosed = true;
        if (this.#partial.length > 0) {
          const raw = Buffer.concat(this.#partial).toString('utf8');
          this.#partial = [];
          this.#receive({ text: raw, raw, problem: CUT_OFF });
        }
        this.#waiter?.reject(new Error(`${this.label}: the connection closed while waiting for a line`));
        this.#waiter = undefined;
        resolve();
      };
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Lines received and not yet taken. */
  get unreadCount(): number {
    return this.#queue.length - this.#head;
  }

  /** Sends one client line: the text and an LF. Resolves once the bytes are handed to the kernel. */
  send(text: string): Promise<void> {
    return this.write(`${text}\n`);
  }

  /** Writes bytes as they are. Never rejects: a failed write shows as a close. */
  write(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#wire.isWritable) return resolve();
      this.#wire.write(bytes, resolve);
    });
  }

  /** The next server line, without its CRLF; fails if it did not end in exactly CRLF. */
  async nextLine(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    const line = await this.#nextReceived(timeoutMs);
    if (line.problem !== null) throw new Error(`${this.label}: server line ${JSON.stringify(line.raw)} ${line.problem}`);
    return line.text;
  }

  async expectLine(expected: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    expect(await this.nextLine(timeoutMs), `${this.label}: next line`).toBe(expected);
  }

  /** The next lines are exactly these, in this order. */
  async expectLines(...expected: string[]): Promise<void> {
    const seen: string[] = [];
    for (let i = 0; i < expected.length; i++) seen.push(await this.nextLine());
    expect(seen, `${this.label}: next ${expected.length} lines`).toEqual(expected);
  }

  /** Skips lines until one matches, and returns it. */
  async waitForLine(predicate: (line: string) => boolean, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = await this.nextLine(Math.max(1, deadline - Date.now()));
      if (predicate(line)) return line;
    }
  }

  /**
   * Asserts that no line arrives within `ms`. Only for absence that no later event can prove;
   * prefer expectQuietUntilMarker, which needs no wait at all.
   */
  async expectNoLine(ms = 200): Promise<void> {
    if (this.unreadCount > 0) throw new Error(`${this.label}: expected no line, but has ${JSON.stringify(this.#peekAll())}`);
    const line = await this.#nextReceived(ms).then(
      (received) => received,
      () => undefined,
    );
    if (line !== undefined) throw new Error(`${this.label}: expected no line within ${ms} ms, got ${JSON.stringify(line.raw)}`);
  }

  /**
   * Resolves when the server has closed the connection. Every line must have been taken first,
   * unless `allowUnread` (a slow consumer's backlog). Resolves on a reset too.
   */
  async expectClosed(timeoutMs = DEFAULT_TIMEOUT_MS, { allowUnread = false } = {}): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.label}: still open after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.#closed, timedOut]);
    } finally {
      clearTimeout(timer);
    }
    if (!allowUnread && this.unreadCount > 0) {
      throw new Error(`${this.label}: closed with lines nobody expected: ${JSON.stringify(this.#peekAll())}`);
    }
  }

  /** Why the socket failed, if it did (ECONNRESET when the server cut it). */
  get closeError(): Error | undefined {
    return this.#closeError;
  }

  /** Stops reading: the kernel buffers fill and the server sees a client that does not read. */
  pause(): void {
    this.#wire.pause();
  }

  resume(): void {
    this.#wire.resume();
  }

  /** Half-closes: sends FIN, keeps reading (a WebSocket sends its close frame). */
  end(): void {
    this.#wire.end();
  }

  destroy(): void {
    this.#wire.destroy();
  }

  /**
   * Takes every line received so far (for the bulk tests, which check them all at once). With
   * `allowCutOff`, the last may be a fragment the close cut off, returned as it came.
   */
  takeAll({ allowCutOff = false } = {}): string[] {
    const lines: string[] = [];
    while (this.unreadCount > 0) {
      const line = this.#queue[this.#head++]!;
      const isCutOff = allowCutOff && this.unreadCount === 0 && this.#isClosed && line.problem === CUT_OFF;
      if (line.problem !== null && !isCutOff) {
        throw new Error(`${this.label}: server line ${JSON.stringify(line.raw)} ${line.problem}`);
      }
      lines.push(line.text);
    }
    this.#compact();
    return lines;
  }

  #peekAll(): string[] {
    return this.#queue.slice(this.#head).map((line) => line.raw);
  }

  #nextReceived(timeoutMs: number): Promise<ReceivedLine> {
    if (this.unreadCount > 0) {
      const line = this.#queue[this.#head++]!;
      this.#compact();
      return Promise.resolve(line);
    }
    if (this.#isClosed) return Promise.reject(new Error(`${this.label}: the connection is closed; no line came`));
    if (this.#waiter !== undefined) return Promise.reject(new Error(`${this.label}: two reads at once`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error(`${this.label}: no line within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiter = { resolve, reject, timer };
    });
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }

  #takeData(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const lf = chunk.indexOf(LF, start);
      if (lf === -1) break;
      let bytes = chunk.subarray(start, lf + 1);
      if (this.#partial.length > 0) {
        bytes = Buffer.concat([...this.#partial, bytes]);
        this.#partial = [];
      }
      this.#receive(splitTerminator(bytes.toString('utf8')));
      start = lf + 1;
    }
    if (start < chunk.length) this.#partial.push(chunk.subarray(start));
  }

  #receive(line: ReceivedLine): void {
    if (this.#keepRawLines) this.rawLines.push(line.raw);
    const waiter = this.#waiter;
    if (waiter === undefined) {
      this.#queue.push(line);
      return;
    }
    this.#waiter = undefined;
    clearTimeout(waiter.timer);
    waiter.resolve(line);
  }
}

/** PROTOCOL.md §2.1: every server line ends in CR LF, and a CR appears nowhere else. */
function splitTerminator(raw: string): ReceivedLine {
  if (!raw.endsWith('\r\n')) return { text: raw.slice(0, -1), raw, problem: 'ends in a bare LF, not CRLF' };
  const text = raw.slice(0, -2);
  if (text.includes('\r')) return { text, raw, problem: 'has a CR before its CRLF' };
  return { text, raw, problem: null };
}

/** Connects to chatd; resolves once the TCP connection is up (before any line). */
export function connect(port: number, host = '127.0.0.1', options: ClientOptions = {}): Promise<ChatClient> {
  return new Promise((resolve, reject) => {
    const socket = connectSocket({ host, port, ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }) });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      const client = new ChatClient(socketWire(socket), options);
      connected.add(client);
      resolve(client);
    });
  });
}

/** Connects over TLS, trusting `ca` (a test's self-signed certificate); resolves once the handshake is done. */
export function connectTls(port: number, ca: string, options: ClientOptions = {}): Promise<ChatClient> {
  return new Promise((resolve, reject) => {
    const socket = connectTlsSocket({ host: '127.0.0.1', port, ca, servername: 'localhost' });
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      const client = new ChatClient(socketWire(socket), options);
      connected.add(client);
      resolve(client);
    });
  });
}

/** How a WebSocket client's connection ended: the close code and reason (1006: no close frame). */
export interface WebSocketClose {
  readonly code: number;
  readonly reason: string;
}

/**
 * Connects with Node's own WebSocket (as a browser script would) to `url` (ws://…/ws or
 * wss://…/ws); resolves once its login line has arrived, which is where it learns
 * the `[ADDR]` the server knows it by (the WebSocket API does not tell its local port). The line
 * stays unread; a refused client's first line is its error, and its addr is 'refused'. Each
 * `send` is one text message. `closed` says how it ended.
 */
export async function connectWebSocket(url: string, options: ClientOptions = {}): Promise<{ client: ChatClient; closed: Promise<WebSocketClose> }> {
  const socket = new WebSocket(url);
  let onFirst: (chunk: Buffer) => void = () => {};
  const held: Buffer[] = [];
  const firstLine = new Promise<string>((resolve, reject) => {
    onFirst = (chunk) => {
      held.push(chunk);
      // The login is the first line that starts with `[`, unless the client was refused; after a
      // resume in the handshake (PROTOCOL.md §10.5) the history lines come before it.
      const lines = Buffer.concat(held).toString('utf8').split('\n').slice(0, -1);
      const first = lines.find((line) => line.startsWith('[') || line.startsWith('error:'));
      if (first !== undefined) resolve(first);
    };
    socket.addEventListener('error', () => reject(new Error(`${url}: the WebSocket failed before its first line`)), { once: true });
    socket.addEventListener('close', (event) => reject(new Error(`${url}: closed (${event.code}) before its first line`)), { once: true });
  });
  let deliver: (chunk: Buffer) => void = (chunk) => onFirst(chunk);
  socket.addEventListener('message', (event: MessageEvent) => {
    deliver(Buffer.from(typeof event.data === 'string' ? event.data : new Uint8Array(event.data as ArrayBuffer)));
  });
  const closed = new Promise<WebSocketClose>((resolve) => {
    socket.addEventListener('close', (event) => resolve({ code: event.code, reason: event.reason }));
  });
  // A client refused at once (server full) gets an error line instead, and has no `[ADDR]` to learn.
  const addr = /^\[([^\]]+)\]/.exec(await firstLine)?.[1] ?? 'refused';
  const wire: ClientWire = {
    addr,
    get isWritable() {
      return socket.readyState === WebSocket.OPEN;
    },
    start(events) {
      deliver = events.data;
      for (const chunk of held.splice(0)) events.data(chunk);
      socket.addEventListener('error', () => events.error(new Error(`${url}: WebSocket error`)));
      if (socket.readyState === WebSocket.CLOSED) events.close();
      else socket.addEventListener('close', () => events.close(), { once: true });
    },
    write: (bytes, done) => {
      socket.send(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
      done();
    },
    pause: () => {
      throw new Error('a WebSocket client cannot stop reading (Node\'s WebSocket has no pause)');
    },
    resume: () => {},
    end: () => socket.close(1000),
    destroy: () => socket.close(),
  };
  const client = new ChatClient(wire, options);
  connected.add(client);
  return { client, closed };
}

/** `[ADDR]NAME:TEXT`, the line everyone sees when `from` says `text` (or a seed event). */
export function lineFrom(from: ChatClient, text: string): string {
  return `[${from.addr}]${from.name}:${text}`;
}

/**
 * Connects and takes the newcomer's own two lines, asserting their exact text: its login (it is
 * the first to see it) and `I am here`. Each client in `online` must see the login, next.
 */
export async function connectAndGreet(
  port: number,
  online: readonly ChatClient[] = [],
  options: ClientOptions = {},
): Promise<ChatClient> {
  const client = await connect(port, '127.0.0.1', options);
  await client.expectLines(lineFrom(client, 'login'), lineFrom(client, 'I am here'));
  for (const other of online) await other.expectLine(lineFrom(client, 'login'));
  return client;
}

/** connectAndGreet, then `rename|NAME`: the actor is called `name` from here on. */
export async function connectAs(port: number, name: string, online: readonly ChatClient[] = []): Promise<ChatClient> {
  const client = await connectAndGreet(port, online);
  await client.send(`rename|${name}`);
  await client.expectLine('rename ok');
  for (const other of online) await other.expectLine(lineFrom(client, `renamed to ${name}`));
  client.name = name;
  client.label = name;
  return client;
}

let markerSerial = 0;

/**
 * Proves that nothing reached anyone in `everyone` between now and a marker: `from` says a
 * unique marker, and it must be the very next line each of them receives. The server handles
 * one client's lines in order, so whatever `from` sent before cannot arrive after the marker.
 */
export async function expectQuietUntilMarker(from: ChatClient, everyone: readonly ChatClient[]): Promise<void> {
  const marker = `marker ${++markerSerial}`;
  await from.send(marker);
  for (const client of everyone) await client.expectLine(lineFrom(from, marker));
}

/**
 * Destroys every client connected since the last call and, given the server, waits until it has
 * logged each one's departure: the next test's clients then never see a stale `login out`.
 */
export async function disconnectAll(server?: ChatdProcess): Promise<void> {
  const clients = [...connected];
  connected.clear();
  for (const client of clients) client.destroy();
  if (server === undefined || server.hasExited) return;
  await Promise.all(clients.map((client) => waitUntilGone(server, client.addr)));
}

/** Resolves once the primary has logged that the client at `addr` left (or was put out). */
async function waitUntilGone(server: ChatdProcess, addr: string): Promise<void> {
  const isPrimary = (record: LogRecord): boolean => record['thread'] === 'primary' && record['addr'] === addr;
  let joinedAt = -1;
  server.logs.forEach((record, index) => {
    if (isPrimary(record) && record['event'] === 'connect') joinedAt = index;
  });
  if (joinedAt === -1) return; // never admitted (refused as server full): nothing to leave
  await server.waitForLog(
    (record, index) => index > joinedAt && isPrimary(record) && (record['event'] === 'leave' || record['event'] === 'kick'),
  );
}

/** Milliseconds until the server closes a plain TCP connection to `port` on which nothing is ever sent. */
export function silentConnectionLifetime(port: number): Promise<number> {
  const startedAt = Date.now();
  return new Promise((resolve) => {
    const socket = connectSocket({ host: '127.0.0.1', port });
    socket.on('error', () => {}); // a reset is one way to be closed
    socket.once('close', () => resolve(Date.now() - startedAt));
  });
}
