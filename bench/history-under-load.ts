// History and resume under chat load (`npm run bench:history`, issue #13, PROTOCOL.md §10): how
// long `/history N` takes with no load and while W2 runs; how long a client that missed N lines
// takes to catch up, by `/resume` over TCP and by the WebSocket handshake, idle and under W2;
// and what `--data-dir` costs W2, in alternating runs. The probes run in the bench's main thread
// beside runBench's client threads. Prints, asserts nothing (docs/BENCHMARKS.md §8).

import { randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { runBench, SCRIPT_DEFAULTS, type BenchOptions, type BenchResult, type RoundResult } from './chat-bench.ts';
import { CHATD_WEB_SOCKET_PATH } from './client-connection.ts';
import { freePort } from './processes/free-port.ts';
import { sampleProcess, spawnServer, type RunningServer } from './servers.ts';
import { median } from './stats.ts';
import { PEER_WORKLOADS } from './workloads.ts';

const PARTS = ['history', 'resume', 'data-dir', 'positioned'] as const;
type Part = (typeof PARTS)[number];
const W2 = PEER_WORKLOADS.find((workload) => workload.name === 'W2-fanout')!;

const USAGE = `usage: node bench/history-under-load.ts [--part ${PARTS.join('|')}]… [flags]
  --part            which probes to run (default all four, in that order)
  --clients, --senders, --rate, --duration   the chat load (default W2: ${W2.clients}, ${W2.senders}, ${W2.rate}, ${W2.duration} s)
  --history N       /history N, and the --history-size of its chatd (default 1000)
  --idle-seconds    seconds of /history asks with no load per round (default 5)
  --repeats         rounds of each part: idle and W2 (history, resume), history in memory
                    and --data-dir (data-dir), alternating which goes first (default 3)
  --missed N        chat lines a resuming client missed (default 1000)
  --resume-samples  idle resumes per path and round, TCP /resume and WebSocket handshake
                    (default 50: over 3 rounds, the p99 of 150 is not just their largest)
  --resume-probes   clients that drop and resume per W2 run, half per path; 0: none (default 60)
  --resume-duration seconds of W2 for them (default 20: each waits --missed / (senders × rate) s)
  --watchers N      clients beside W2 that read, with a token (/token) or without (positioned; default 100)
  --workers, --threads   chatd's workers and the bench's client threads (default: cores)
  --cpu-prof DIR    run the probes' chatd under node --cpu-prof, a profile per thread in DIR
  --json FILE       every figure as JSON
`;

const { values: flags } = parseArgs({
  options: {
    part: { type: 'string', multiple: true, default: [...PARTS] },
    clients: { type: 'string', default: String(W2.clients) },
    senders: { type: 'string', default: String(W2.senders) },
    rate: { type: 'string', default: String(W2.rate) },
    duration: { type: 'string', default: String(W2.duration) },
    history: { type: 'string', default: '1000' },
    'idle-seconds': { type: 'string', default: '5' },
    repeats: { type: 'string', default: '3' },
    missed: { type: 'string', default: '1000' },
    'resume-samples': { type: 'string', default: '50' },
    'resume-probes': { type: 'string', default: '60' },
    'resume-duration': { type: 'string', default: '20' },
    watchers: { type: 'string', default: '100' },
    workers: { type: 'string', default: String(availableParallelism()) },
    threads: { type: 'string', default: String(availableParallelism()) },
    'cpu-prof': { type: 'string' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
type NumberFlag =
  | 'clients'
  | 'senders'
  | 'rate'
  | 'duration'
  | 'history'
  | 'idle-seconds'
  | 'repeats'
  | 'missed'
  | 'resume-samples'
  | 'resume-probes'
  | 'resume-duration'
  | 'watchers'
  | 'workers'
  | 'threads';
const number = (name: NumberFlag, least = 1): number => {
  const value = Number(flags[name]);
  if (!Number.isFinite(value) || value < least) throw new Error(`--${name} must be a number of at least ${least}; got ${String(flags[name])}`);
  return value;
};
const parts = flags.part.map((part): Part => {
  if (!(PARTS as readonly string[]).includes(part)) throw new Error(`--part must be one of ${PARTS.join(', ')}; got ${part}`);
  return part as Part;
});
const CLIENTS = number('clients');
const SENDERS = number('senders');
const RATE = number('rate');
const DURATION_S = number('duration');
const HISTORY_COUNT = number('history');
const IDLE_SECONDS = number('idle-seconds');
const REPEATS = number('repeats');
const MISSED = number('missed');
const RESUME_SAMPLES = number('resume-samples');
const RESUME_PROBES = number('resume-probes', 0);
const RESUME_DURATION_S = number('resume-duration');
const WATCHERS = number('watchers');
const WORKERS = number('workers');
const THREADS = number('threads');

/** #13: a client asks every 100–200 ms, as a busy client scrolling back might. */
const ASK_INTERVAL_MIN_MS = 100;
const ASK_INTERVAL_MAX_MS = 200;
/** Asks and resumes before the figures count: the server's and the probe's code paths warm up. */
const WARM_UP_ASKS = 5;
const WARM_UP_RESUMES = 2;
/**
 * After a W2 run its 1000 clients leave, and each `login out` goes to everyone still online
 * (n²/2 lines): the next phase waits until the server uses less than this share of a core over
 * SETTLE_SAMPLE_MS, for at most SETTLE_MAX_MS, or it would measure that storm.
 */
const SETTLE_CPU_SHARE = 0.05;
const SETTLE_SAMPLE_MS = 250;
const SETTLE_MAX_MS = 15_000;
/** A reply that takes longer than this is a hang, not a figure. */
const REPLY_TIMEOUT_MS = 10_000;
/** Lines a client keeps unread before the oldest go: only a client nobody reads piles up (the observer). */
const MAX_BACKLOG_LINES = 10_000;
/** The chat lines the fillers say: no `~b ` in them, so the bench's clients skip them as they skip logins. */
const FILL_TEXT = 'history fill: a chat line as long as a short sentence typed by someone';

// ---------------------------------------------------------------------------------------------
// A probe's connection: TCP or WebSocket, whole lines with the time their chunk arrived.

interface ReceivedLine {
  readonly text: string;
  /** performance.now() when the chunk that ended this line was read. */
  readonly atMs: number;
}

interface LineWaiter {
  readonly isWanted: (text: string) => boolean;
  readonly resolve: (line: ReceivedLine) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Matches every line that says where a client with a token stands (PROTOCOL.md §10.2–§10.4). */
const POSITION_OF_LINE = /^(?:@|history @|token \S+ @|resumed \S+ @)(\d+)/;

class LineClient {
  /** The position of the last history entry this connection was sent, from its lines. */
  position = 0;
  isClosed = false;
  readonly #write: (line: string) => void;
  readonly #destroy: () => void;
  readonly #backlog: ReceivedLine[] = [];
  #partial = '';
  #waiter: LineWaiter | null = null;

  private constructor(write: (line: string) => void, destroy: () => void) {
    this.#write = write;
    this.#destroy = destroy;
  }

  static tcp(host: string, port: number): LineClient {
    const socket = connect({ host, port, noDelay: true });
    const client = new LineClient((line) => void socket.write(`${line}\n`), () => socket.destroy());
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => client.#take(text));
    socket.on('error', () => {}); // the close that follows is what counts
    socket.on('close', () => client.#closed());
    return client;
  }

  static webSocket(url: string): LineClient {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    // PROTOCOL.md §9.2: one line per text message sent; a message received may carry several.
    const client = new LineClient((line) => socket.send(line), () => socket.terminate());
    socket.on('message', (data: Buffer) => client.#take(data.toString('utf8')));
    socket.on('error', () => {});
    socket.on('close', () => client.#closed());
    return client;
  }

  send(line: string): void {
    this.#write(line);
  }

  /** Closes at once, without a goodbye: to the server, a dropped connection (PROTOCOL.md §10.4). */
  destroy(): void {
    this.#destroy();
  }

  /**
   * The first line, past or future, for which `isWanted` is true; the lines it says no to are
   * dropped. `isWanted` may keep state: it sees every line once, in order.
   */
  waitForLine(isWanted: (text: string) => boolean, what: string, timeoutMs = REPLY_TIMEOUT_MS): Promise<ReceivedLine> {
    while (this.#backlog.length > 0) {
      const line = this.#backlog.shift()!;
      if (isWanted(line.text)) return Promise.resolve(line);
    }
    if (this.isClosed) return Promise.reject(new Error(`closed while waiting for ${what}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = null;
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiter = { isWanted, resolve, reject, timer };
    });
  }

  #take(text: string): void {
    const atMs = performance.now();
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const raw of lines) {
      const line = { text: raw.endsWith('\r') ? raw.slice(0, -1) : raw, atMs };
      const position = POSITION_OF_LINE.exec(line.text);
      if (position !== null) this.position = Math.max(this.position, Number(position[1]));
      const waiter = this.#waiter;
      if (waiter === null) {
        this.#backlog.push(line);
        if (this.#backlog.length > MAX_BACKLOG_LINES) this.#backlog.splice(0, MAX_BACKLOG_LINES / 2);
      } else if (waiter.isWanted(line.text)) {
        this.#waiter = null;
        clearTimeout(waiter.timer);
        waiter.resolve(line);
      }
    }
  }

  #closed(): void {
    this.isClosed = true;
    const waiter = this.#waiter;
    this.#waiter = null;
    if (waiter !== null) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('the connection closed'));
    }
  }
}

/** A client that is in: its greeting came (PROTOCOL.md §5.2), and with `name`, its rename is done. */
async function connectClient(host: string, port: number, name?: string): Promise<LineClient> {
  const client = LineClient.tcp(host, port);
  await client.waitForLine((text) => text.endsWith(':I am here'), 'greeting');
  if (name !== undefined) {
    client.send(`rename|${name}`);
    const { text } = await client.waitForLine((line) => line === 'rename ok' || line.startsWith('error:'), 'rename ok');
    if (text !== 'rename ok') throw new Error(`rename|${name}: ${text}`);
  }
  return client;
}

/** Tells one burst's lines from the next: each burst waits for its own last line. */
let burstSerial = 0;

/** Says `count` chat lines in one write (chatd runs with --rate-limit 0) and waits for the last to come back. */
async function sayLines(sender: LineClient, count: number): Promise<void> {
  const tag = `#${++burstSerial}`;
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) lines.push(`${FILL_TEXT} ${tag}.${i}`);
  sender.send(lines.join('\n'));
  const last = `${FILL_TEXT} ${tag}.${count}`;
  await sender.waitForLine((text) => text.endsWith(last), `the last of ${count} lines said`, 30_000);
}

// ---------------------------------------------------------------------------------------------
// The figures.

interface Spread {
  readonly samples: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest rank: under 100 samples, p99 is the largest. */
function percentile(sorted: readonly number[], fraction: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))]!;
}

function spreadOf(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return { samples: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? NaN };
}

/** How late the probes' thread ran while they measured: what the bench itself can have added to a figure. */
function watchLoop(): { stop(): { p99: number; max: number } } {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  return {
    stop() {
      delay.disable();
      return { p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 };
    },
  };
}

const fixed = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : '—');
const list = (values: readonly number[], digits = 1): string => values.map((value) => fixed(value, digits)).join(', ');
const table = (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string =>
  `| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|\n${rows.map((row) => `| ${row.join(' | ')} |`).join('\n')}\n`;
const cpuPerDelivery = (round: RoundResult): number =>
  round.serverCpuSeconds === null ? NaN : (round.serverCpuSeconds * 1e6) / Math.max(1, round.integrity.received);
const integrityOf = (round: RoundResult): string =>
  `${round.integrity.lost}/${round.integrity.duplicated}/${round.integrity.late}/${round.integrity.orderDisagreements}`;

/** W2 against a chatd the script started; `during` runs from the first second of load and must end by itself. */
async function runLoad<T>(server: RunningServer, durationS: number, during: () => Promise<T>): Promise<{ round: RoundResult; probing: Promise<T> }> {
  const options: BenchOptions = {
    ...SCRIPT_DEFAULTS,
    host: server.host,
    ports: [server.port],
    workers: WORKERS,
    serverPids: [server.pid],
    clients: CLIENTS,
    senders: SENDERS,
    rate: RATE,
    duration: durationS,
    ramp: W2.ramp,
    threads: THREADS,
    connectTimeoutMs: 60_000,
  };
  let probing: Promise<T> | null = null;
  const result = await runBench(options, {
    connecting: () => {},
    loading: () => {
      if (probing !== null) return;
      probing = during();
      // Awaited once the load is over; a probe that fails meanwhile must not crash the run first.
      probing.catch(() => {});
    },
    done: () => {},
  });
  const round = result.headline;
  if (round === null) throw new Error(`W2: only ${result.connect.greeted} of ${CLIENTS} clients got in`);
  return { round, probing: probing ?? Promise.reject(new Error('the chat load never started')) };
}

/** Waits until the server is quiet (SETTLE_CPU_SHARE); gives up after SETTLE_MAX_MS and measures anyway. */
async function settle(server: RunningServer): Promise<void> {
  const endMs = performance.now() + SETTLE_MAX_MS;
  let before = sampleProcess(server.pid)?.cpuSeconds;
  while (before !== undefined && performance.now() < endMs) {
    await sleep(SETTLE_SAMPLE_MS);
    const now = sampleProcess(server.pid)?.cpuSeconds;
    if (now === undefined || now - before < (SETTLE_CPU_SHARE * SETTLE_SAMPLE_MS) / 1000) return;
    before = now;
  }
}

/** The chatd of a probe: this checkout, limits off as for every bench (servers.ts), optionally profiled. */
async function startProbedChatd(extraArgs: readonly string[]): Promise<RunningServer> {
  const profileDir = flags['cpu-prof'];
  // Only around the spawn: the bench's own threads must not be profiled, nor slowed by it.
  const before = process.env['NODE_OPTIONS'];
  if (profileDir !== undefined) process.env['NODE_OPTIONS'] = `${before ?? ''} --cpu-prof --cpu-prof-dir=${profileDir}`.trim();
  try {
    return await spawnServer({ kind: 'chatd', transport: 'tcp', workers: WORKERS, seedBinary: '', extraArgs });
  } finally {
    if (before === undefined) delete process.env['NODE_OPTIONS'];
    else process.env['NODE_OPTIONS'] = before;
  }
}

// ---------------------------------------------------------------------------------------------
// 1. `/history N`, idle and while W2 runs.

interface HistoryPhase {
  readonly load: 'none' | 'W2';
  readonly round: number;
  /** Each ask's time from the ask to the reply's last line. */
  readonly samplesMs: readonly number[];
  readonly ms: Spread;
  /** `/history 1` asked by a second client at the same pace: what any reply costs then. */
  readonly controlMs: Spread;
  /** Replies to `/history N` with other than N entries (0 once history is full). */
  readonly shortReplies: number;
  readonly probeLoopMs: { readonly p99: number; readonly max: number };
  readonly chat: RoundResult | null;
}

/** `/history N`, then the time until its last line came: the header's count of `history @` lines. */
async function askHistory(client: LineClient, count: number): Promise<{ ms: number; entries: number }> {
  let expected = -1;
  let seen = 0;
  const startMs = performance.now();
  client.send(`/history ${count}`);
  const last = await client.waitForLine((text) => {
    if (expected === -1) {
      const header = /^history: (\d+) (?:entry|entries)$/.exec(text);
      if (header === null) return false;
      expected = Number(header[1]);
      return expected === 0;
    }
    if (text.startsWith('history @')) seen++;
    return seen === expected;
  }, `the reply to /history ${count}`);
  return { ms: last.atMs - startMs, entries: expected };
}

interface Asked {
  readonly samples: number[];
  readonly shortReplies: number;
}

/** Asks `/history count` for `seconds`, waiting 100–200 ms after each reply. */
async function askFor(client: LineClient, count: number, seconds: number): Promise<Asked> {
  const samples: number[] = [];
  let shortReplies = 0;
  const endMs = performance.now() + seconds * 1000;
  while (performance.now() < endMs) {
    const reply = await askHistory(client, count);
    samples.push(reply.ms);
    if (reply.entries !== count) shortReplies++;
    await sleep(randomInt(ASK_INTERVAL_MIN_MS, ASK_INTERVAL_MAX_MS + 1));
  }
  return { samples, shortReplies };
}

async function measureHistory(): Promise<HistoryPhase[]> {
  const server = await startProbedChatd(['--history-size', String(HISTORY_COUNT)]);
  const phases: HistoryPhase[] = [];
  try {
    const filler = await connectClient(server.host, server.port, 'filler');
    await sayLines(filler, HISTORY_COUNT);
    const probe = await connectClient(server.host, server.port, 'historian');
    const control = await connectClient(server.host, server.port, 'control');
    for (let i = 0; i < WARM_UP_ASKS; i++) {
      const reply = await askHistory(probe, HISTORY_COUNT);
      if (reply.entries !== HISTORY_COUNT) throw new Error(`history holds ${reply.entries} entries after ${HISTORY_COUNT} lines said; is --history-size honoured?`);
      await askHistory(control, 1);
    }
    const askBoth = async (seconds: number): Promise<{ asked: Asked; controlled: Asked; probeLoopMs: { p99: number; max: number } }> => {
      const loop = watchLoop();
      const [asked, controlled] = await Promise.all([askFor(probe, HISTORY_COUNT, seconds), askFor(control, 1, seconds)]);
      return { asked, controlled, probeLoopMs: loop.stop() };
    };
    for (let round = 1; round <= REPEATS; round++) {
      const order: Array<'none' | 'W2'> = round % 2 === 1 ? ['none', 'W2'] : ['W2', 'none'];
      for (const load of order) {
        process.stderr.write(`history: round ${round}, ${load === 'none' ? 'no load' : 'W2'}…\n`);
        await settle(server);
        let chat: RoundResult | null = null;
        let figures: Awaited<ReturnType<typeof askBoth>>;
        if (load === 'none') figures = await askBoth(IDLE_SECONDS);
        else {
          const loaded = await runLoad(server, DURATION_S, () => askBoth(DURATION_S));
          chat = loaded.round;
          figures = await loaded.probing;
        }
        phases.push({
          load,
          round,
          samplesMs: figures.asked.samples,
          ms: spreadOf(figures.asked.samples),
          controlMs: spreadOf(figures.controlled.samples),
          shortReplies: figures.asked.shortReplies,
          probeLoopMs: figures.probeLoopMs,
          chat,
        });
      }
    }
    probe.destroy();
    control.destroy();
    filler.destroy();
  } finally {
    await server.stop();
  }
  return phases;
}

function printHistory(phases: readonly HistoryPhase[]): string {
  const header = [
    'load', 'rounds', 'asks', 'p50 ms', 'p99 ms', 'p99 of each round', 'p99 of all asks', 'short replies',
    '`/history 1` p50 / p99 ms', 'probe loop p99 ms', 'W2 p50 / p99 ms', 'W2 deliveries/s',
  ];
  const rows = (['none', 'W2'] as const).map((load) => {
    const mine = phases.filter((phase) => phase.load === load);
    const m = (pick: (phase: HistoryPhase) => number): number => median(mine.map(pick));
    const chats = mine.flatMap((phase) => (phase.chat === null ? [] : [phase.chat]));
    return [
      load === 'none' ? 'none' : `W2 (${CLIENTS} clients, ${SENDERS} × ${RATE}/s)`,
      String(mine.length),
      String(mine.reduce((total, phase) => total + phase.ms.samples, 0)),
      fixed(m((phase) => phase.ms.p50)),
      fixed(m((phase) => phase.ms.p99)),
      list(mine.map((phase) => phase.ms.p99)),
      fixed(spreadOf(mine.flatMap((phase) => phase.samplesMs)).p99),
      String(mine.reduce((total, phase) => total + phase.shortReplies, 0)),
      `${fixed(m((phase) => phase.controlMs.p50))} / ${fixed(m((phase) => phase.controlMs.p99))}`,
      fixed(m((phase) => phase.probeLoopMs.p99), 1),
      chats.length === 0 ? '—' : `${fixed(median(chats.map((chat) => chat.latencyMs.p50)), 1)} / ${fixed(median(chats.map((chat) => chat.latencyMs.p99)), 1)}`,
      chats.length === 0 ? '—' : Math.round(median(chats.map((chat) => chat.deliveriesPerSecond))).toLocaleString('en-US'),
    ];
  });
  return (
    `/history ${HISTORY_COUNT} on a chatd with --history-size ${HISTORY_COUNT}, full; asked every ${ASK_INTERVAL_MIN_MS}–${ASK_INTERVAL_MAX_MS} ms ` +
    `for ${IDLE_SECONDS} s (none) or the ${DURATION_S} s of load (W2) per round, beside a second client asking /history 1 at the same pace; ` +
    `time from the ask to its last line; medians of the rounds (a round's p99 is its largest: under 100 asks), and the p99 of every ask of all rounds\n\n` +
    table(header, rows)
  );
}

// ---------------------------------------------------------------------------------------------
// 2. Resume after MISSED lines: TCP `/resume`, and the WebSocket handshake.

type ResumePath = 'tcp' | 'ws';

interface ResumeSample {
  readonly path: ResumePath;
  readonly ms: number;
  /** From `resume: K entries you missed`, and the history lines that followed it. */
  readonly entries: number;
  readonly linesSeen: number;
  /** The `, and L before them that are no longer kept` count: 0 unless history lost some. */
  readonly notKept: number;
}

interface Resumed {
  readonly client: LineClient;
  readonly token: string;
  readonly sample: ResumeSample;
}

const RESUME_HEADER = /^resume: (\d+) (?:entry|entries) you missed(?:, and (\d+) before them that are no longer kept)?$/;

/**
 * Reconnects and resumes at `position`: from the start of the connect to `resumed TOKEN @N`.
 * Over TCP `/resume` is written at once, with the connect (a client that knows it resumes need
 * not wait for its greeting); over a WebSocket the handshake carries it (PROTOCOL.md §10.5).
 */
async function resume(server: RunningServer, webPort: number, path: ResumePath, token: string, position: number): Promise<Resumed> {
  const startMs = performance.now();
  const client =
    path === 'tcp'
      ? LineClient.tcp(server.host, server.port)
      : LineClient.webSocket(`ws://${server.host}:${webPort}${CHATD_WEB_SOCKET_PATH}?resume=${token}&position=${position}`);
  if (path === 'tcp') client.send(`/resume ${token} ${position}`);
  let entries = -1;
  let notKept = 0;
  let linesSeen = 0;
  const last = await client.waitForLine((text) => {
    if (text.startsWith('error:')) return true;
    if (entries === -1) {
      const header = RESUME_HEADER.exec(text);
      if (header !== null) {
        entries = Number(header[1]);
        notKept = Number(header[2] ?? 0);
      }
      return false;
    }
    if (text.startsWith('history @')) linesSeen++;
    return text.startsWith('resumed ');
  }, `resumed, ${path}`);
  if (last.text.startsWith('error:')) throw new Error(`resume over ${path} refused: ${last.text}`);
  const newToken = /^resumed (\S+) @\d+$/.exec(last.text)?.[1];
  if (newToken === undefined) throw new Error(`resume over ${path}: no token in ${last.text}`);
  return { client, token: newToken, sample: { path, ms: last.atMs - startMs, entries, linesSeen, notKept } };
}

async function tokenOf(client: LineClient): Promise<string> {
  client.send('/token');
  const line = await client.waitForLine((text) => text.startsWith('token ') || text.startsWith('error:'), 'token');
  const token = /^token (\S+) @\d+$/.exec(line.text)?.[1];
  if (token === undefined) throw new Error(`/token: ${line.text}`);
  return token;
}

interface ResumePhase {
  readonly load: 'none' | 'W2';
  readonly round: number;
  readonly samples: readonly ResumeSample[];
  readonly probeLoopMs: { readonly p99: number; readonly max: number };
  /** W2: probes still waiting for their lines to be said when the load ended. */
  readonly probesNotDone: number;
  readonly chat: RoundResult | null;
}

/** Where the idle phases' probe stands between them: a connection online with its token. */
interface IdleProbe {
  client: LineClient;
  token: string;
}

/** Idle: the probe drops, `sender` says MISSED lines, the probe resumes; TCP and WebSocket in turn. */
async function resumeIdle(server: RunningServer, webPort: number, sender: LineClient, probe: IdleProbe, count: number): Promise<ResumeSample[]> {
  const samples: ResumeSample[] = [];
  for (let i = 0; i < count; i++) {
    const position = probe.client.position;
    probe.client.destroy();
    await sayLines(sender, MISSED);
    const resumed = await resume(server, webPort, i % 2 === 0 ? 'tcp' : 'ws', probe.token, position);
    samples.push(resumed.sample);
    probe.client = resumed.client;
    probe.token = resumed.token;
  }
  return samples;
}

/**
 * Under W2: its senders say the lines the probes miss. Each probe drops at its turn, spread over
 * the run, and comes back once `observer` (a client with a token) has seen MISSED more positions.
 */
async function resumeUnderLoad(server: RunningServer, webPort: number, observer: LineClient): Promise<{ samples: ResumeSample[]; probeLoopMs: { p99: number; max: number }; chat: RoundResult }> {
  const staggerS = RESUME_DURATION_S - MISSED / (SENDERS * RATE) - 2;
  const probes = await Promise.all(Array.from({ length: RESUME_PROBES }, (_, i) => connectClient(server.host, server.port, `probe${i}`)));
  const tokens = await Promise.all(probes.map(tokenOf));
  const samples: ResumeSample[] = [];
  let isLoadOver = false;
  const probeOne = async (i: number): Promise<void> => {
    await sleep((i * staggerS * 1000) / RESUME_PROBES);
    const position = probes[i]!.position;
    probes[i]!.destroy();
    while (observer.position < position + MISSED) {
      if (isLoadOver) return;
      await sleep(2);
    }
    const resumed = await resume(server, webPort, i % 2 === 0 ? 'tcp' : 'ws', tokens[i]!, position);
    samples.push(resumed.sample);
    // /quit ends the session: nothing stays held for the next round (PROTOCOL.md §10.4).
    resumed.client.send('/quit');
    resumed.client.destroy();
  };
  const { round: chat, probing } = await runLoad(server, RESUME_DURATION_S, async () => {
    const loop = watchLoop();
    await Promise.all(probes.map((_, i) => probeOne(i)));
    return loop.stop();
  });
  isLoadOver = true;
  return { samples, probeLoopMs: await probing, chat };
}

async function measureResume(): Promise<ResumePhase[]> {
  const waitS = MISSED / (SENDERS * RATE);
  if (RESUME_PROBES > 0 && RESUME_DURATION_S - waitS - 2 <= 0) {
    throw new Error(`--resume-duration ${RESUME_DURATION_S} leaves no time: W2 says ${MISSED} lines in ${waitS} s; give at least ${Math.ceil(waitS + 3)}`);
  }
  // The handshake resume needs the web listener; spawnServer reports only the chat port, so the
  // web port is chosen here. History twice the lines missed: under W2 a few more are said while
  // a probe reconnects, and none of them may fall out of what is kept.
  const webPort = await freePort();
  const server = await startProbedChatd(['--history-size', String(2 * MISSED), '--web-port', String(webPort)]);
  const phases: ResumePhase[] = [];
  try {
    const sender = await connectClient(server.host, server.port, 'sayer');
    const first = await connectClient(server.host, server.port, 'resumer');
    const probe: IdleProbe = { client: first, token: await tokenOf(first) };
    const observer = await connectClient(server.host, server.port, 'observer');
    await tokenOf(observer);
    await resumeIdle(server, webPort, sender, probe, WARM_UP_RESUMES);
    const loads: Array<'none' | 'W2'> = RESUME_PROBES === 0 ? ['none'] : ['none', 'W2'];
    for (let round = 1; round <= REPEATS; round++) {
      for (const load of round % 2 === 1 ? loads : [...loads].reverse()) {
        process.stderr.write(`resume: round ${round}, ${load === 'none' ? `${RESUME_SAMPLES} idle resumes per path` : `${RESUME_PROBES} probes while W2 runs ${RESUME_DURATION_S} s`}…\n`);
        await settle(server);
        if (load === 'none') {
          const loop = watchLoop();
          const samples = await resumeIdle(server, webPort, sender, probe, 2 * RESUME_SAMPLES);
          phases.push({ load, round, samples, probeLoopMs: loop.stop(), probesNotDone: 0, chat: null });
        } else {
          const { samples, probeLoopMs, chat } = await resumeUnderLoad(server, webPort, observer);
          phases.push({ load, round, samples, probeLoopMs, probesNotDone: RESUME_PROBES - samples.length, chat });
        }
      }
    }
    probe.client.send('/quit');
    probe.client.destroy();
    observer.destroy();
    sender.destroy();
  } finally {
    await server.stop();
  }
  return phases;
}

function printResume(phases: readonly ResumePhase[]): string {
  const header = [
    'path', 'load', 'samples', 'p50 ms', 'p99 ms', 'p99 of each round', 'p99 of all samples', 'max ms', 'entries per resume', 'checks',
    'probe loop p99 ms', 'W2 p50 / p99 ms',
  ];
  const rows: string[][] = [];
  for (const load of ['none', 'W2'] as const) {
    const mine = phases.filter((phase) => phase.load === load);
    const chats = mine.flatMap((phase) => (phase.chat === null ? [] : [phase.chat]));
    for (const path of ['tcp', 'ws'] as const) {
      const ofPath = (phase: ResumePhase): ResumeSample[] => phase.samples.filter((sample) => sample.path === path);
      const all = mine.flatMap(ofPath);
      if (all.length === 0) continue;
      const ms = spreadOf(all.map((sample) => sample.ms));
      const rounds = mine.map((phase) => spreadOf(ofPath(phase).map((sample) => sample.ms)));
      const entries = all.map((sample) => sample.entries);
      const [least, most] = [Math.min(...entries), Math.max(...entries)];
      const broken = all.filter((sample) => sample.linesSeen !== sample.entries || sample.notKept !== 0 || sample.entries < MISSED).length;
      const exact = all.filter((sample) => sample.entries === MISSED).length;
      rows.push([
        path === 'tcp' ? 'TCP `/resume`' : 'WebSocket handshake',
        load === 'none' ? 'none' : `W2 (${CLIENTS} clients, ${SENDERS} × ${RATE}/s)`,
        String(ms.samples),
        fixed(median(rounds.map((round) => round.p50))),
        fixed(median(rounds.map((round) => round.p99))),
        list(rounds.map((round) => round.p99)),
        fixed(ms.p99),
        fixed(ms.max),
        least === most ? String(least) : `${least}–${most}`,
        `${exact} exactly ${MISSED}, ${broken} short or miscounted`,
        fixed(median(mine.map((phase) => phase.probeLoopMs.p99)), 1),
        chats.length === 0 ? '—' : `${fixed(median(chats.map((chat) => chat.latencyMs.p50)), 1)} / ${fixed(median(chats.map((chat) => chat.latencyMs.p99)), 1)}`,
      ]);
    }
  }
  const notDone = phases.reduce((total, phase) => total + phase.probesNotDone, 0);
  const chats = phases.flatMap((phase) => (phase.chat === null ? [] : [phase.chat]));
  return (
    `resume of a client that missed ${MISSED} lines (--history-size ${2 * MISSED}), from the start of the reconnect to \`resumed TOKEN @N\`; ` +
    `${REPEATS} rounds, idle and W2 (${RESUME_DURATION_S} s) alternating; p50 and p99 the medians of the rounds', then the p99 and max of ` +
    `every sample of all rounds (nearest rank: under 100 samples a p99 is their largest); W2's figures the medians of its runs\n\n` +
    table(header, rows) +
    (chats.length === 0
      ? ''
      : `\nW2 while the probes resumed: deliveries/s ${chats.map((chat) => Math.round(chat.deliveriesPerSecond).toLocaleString('en-US')).join(', ')}; ` +
        `lost/dup/late/order ${chats.map(integrityOf).join(', ')}; probes not done when the load ended: ${notDone}\n`)
  );
}

// ---------------------------------------------------------------------------------------------
// Parts 3 and 4 compare two chatd setups under W2: a fresh chatd per run, alternating.

interface PairRun<Contender extends string> {
  readonly contender: Contender;
  readonly round: number;
  readonly chat: RoundResult;
}

/** REPEATS rounds of both contenders, alternating which goes first; `run` measures one. */
async function alternate<Contender extends string, Run extends PairRun<Contender>>(
  part: string,
  [first, second]: readonly [Contender, Contender],
  run: (contender: Contender, round: number) => Promise<Run>,
): Promise<Run[]> {
  const runs: Run[] = [];
  for (let round = 1; round <= REPEATS; round++) {
    for (const contender of round % 2 === 1 ? [first, second] : [second, first]) {
      process.stderr.write(`${part}: round ${round}, ${contender}…\n`);
      runs.push(await run(contender, round));
    }
  }
  return runs;
}

interface PairTable<Contender extends string, Run extends PairRun<Contender>> {
  readonly contenders: readonly [Contender, Contender];
  /** The first column's heading, and each contender's cell in it. */
  readonly what: string;
  readonly labelOf: (contender: Contender) => string;
  /** A last column of the part's own. */
  readonly extra?: { readonly header: string; readonly cell: (contender: Contender, runs: readonly Run[]) => string };
  /** The line above the table, and the name of the second-to-first ratio below it. */
  readonly intro: string;
  readonly ratioName: string;
  readonly cpuName: string;
}

/** A two-way comparison: medians of each contender, then the second against the first. */
function printPair<Contender extends string, Run extends PairRun<Contender>>(runs: readonly Run[], layout: PairTable<Contender, Run>): string {
  const header = [layout.what, 'runs', 'p50 ms', 'p99 ms', 'p99 of each run', 'server CPU µs/delivery', 'of each run', 'deliveries/s', 'lost / dup / late / order'];
  if (layout.extra !== undefined) header.push(layout.extra.header);
  const medians = layout.contenders.map((contender) => {
    const mine = runs.filter((run) => run.contender === contender);
    const p99 = median(mine.map((run) => run.chat.latencyMs.p99));
    const cpu = median(mine.map((run) => cpuPerDelivery(run.chat)));
    const row = [
      layout.labelOf(contender),
      String(mine.length),
      fixed(median(mine.map((run) => run.chat.latencyMs.p50)), 1),
      fixed(p99, 1),
      list(mine.map((run) => run.chat.latencyMs.p99)),
      fixed(cpu),
      list(mine.map((run) => cpuPerDelivery(run.chat)), 2),
      Math.round(median(mine.map((run) => run.chat.deliveriesPerSecond))).toLocaleString('en-US'),
      mine.map((run) => integrityOf(run.chat)).join(', '),
    ];
    if (layout.extra !== undefined) row.push(layout.extra.cell(contender, mine));
    return { p99, cpu, row };
  });
  const [first, second] = medians as [(typeof medians)[number], (typeof medians)[number]];
  const ratio = (a: number, b: number): string => `${fixed(b / a, 3)} ×`;
  return (
    `${layout.intro}; medians\n\n` +
    table(header, medians.map(({ row }) => row)) +
    `\n${layout.ratioName}: p99 ${ratio(first.p99, second.p99)}, ${layout.cpuName} ${ratio(first.cpu, second.cpu)}\n`
  );
}

const W2_RUNS = `W2 (${CLIENTS} clients, ${SENDERS} × ${RATE}/s, ${DURATION_S} s)`;

// ---------------------------------------------------------------------------------------------
// 3. --data-dir against history in memory only.

interface DataDirRun extends PairRun<'memory' | 'data-dir'> {
  /** history.sqlite and its WAL after the run, bytes: proof the run wrote to disk. */
  readonly bytesOnDisk: number;
}

function measureDataDir(): Promise<DataDirRun[]> {
  return alternate('data-dir', ['memory', 'data-dir'], async (contender, round) => {
    const dir = contender === 'data-dir' ? mkdtempSync(join(tmpdir(), 'chatd-bench-history-')) : null;
    try {
      const result: BenchResult = await runBench({
        ...SCRIPT_DEFAULTS,
        spawn: 'chatd',
        workers: WORKERS,
        ...(dir === null ? {} : { serverArgs: ['--data-dir', dir] }),
        clients: CLIENTS,
        senders: SENDERS,
        rate: RATE,
        duration: DURATION_S,
        ramp: W2.ramp,
        threads: THREADS,
        connectTimeoutMs: 60_000,
      });
      if (result.headline === null) throw new Error(`${contender}: only ${result.connect.greeted} of ${CLIENTS} clients got in`);
      return { contender, round, chat: result.headline, bytesOnDisk: dir === null ? 0 : bytesIn(dir) };
    } finally {
      if (dir !== null) rmSync(dir, { recursive: true, force: true });
    }
  });
}

function bytesIn(dir: string): number {
  return ['history.sqlite', 'history.sqlite-wal'].reduce((total, name) => total + (existsSync(join(dir, name)) ? statSync(join(dir, name)).size : 0), 0);
}

function printDataDir(runs: readonly DataDirRun[]): string {
  return printPair(runs, {
    contenders: ['memory', 'data-dir'],
    what: 'chatd',
    labelOf: (contender) => (contender === 'memory' ? 'history in memory' : '`--data-dir`'),
    extra: {
      header: 'on disk after',
      cell: (contender, mine) => (contender === 'memory' ? '—' : mine.map((run) => `${(run.bytesOnDisk / 1024).toFixed(0)} KiB`).join(', ')),
    },
    intro: `${W2_RUNS}, a fresh chatd per run, history in memory and --data-dir alternating`,
    ratioName: '--data-dir / memory',
    cpuName: 'server CPU per delivery',
  });
}

// ---------------------------------------------------------------------------------------------
// 4. What positions cost: W2 beside watchers that asked for a token, against the same without.

type PositionedRun = PairRun<'plain' | 'tokens'>;

/**
 * Every web page asks for a token, and while any client holds one every broadcast run goes to the
 * workers in two forms (ARCHITECTURE.md §3.6). W2 against a fresh chatd per run, beside WATCHERS
 * clients that read everything, which either asked /token (tokens) or not (plain); both have the
 * same watchers, so the CPU per W2 delivery compares what the second form costs.
 */
function measurePositioned(): Promise<PositionedRun[]> {
  return alternate('positioned', ['plain', 'tokens'], async (contender, round) => {
    const server = await startProbedChatd([]);
    const watchers: LineClient[] = [];
    try {
      for (let i = 0; i < WATCHERS; i++) watchers.push(await connectClient(server.host, server.port));
      if (contender === 'tokens') {
        for (const watcher of watchers) watcher.send('/token');
        for (const watcher of watchers) await watcher.waitForLine((text) => text.startsWith('token '), 'token reply');
      }
      await settle(server);
      const { round: chat } = await runLoad(server, DURATION_S, async () => {});
      return { contender, round, chat };
    } finally {
      for (const watcher of watchers) watcher.destroy();
      await server.stop();
    }
  });
}

function printPositioned(runs: readonly PositionedRun[]): string {
  return printPair(runs, {
    contenders: ['plain', 'tokens'],
    what: 'watchers',
    labelOf: (contender) => (contender === 'plain' ? `${WATCHERS} without a token` : `${WATCHERS} with a token`),
    intro: `${W2_RUNS} beside ${WATCHERS} reading clients, a fresh chatd per run, watchers with and without a token alternating`,
    ratioName: 'tokens / plain',
    cpuName: 'server CPU per W2 delivery',
  });
}

// ---------------------------------------------------------------------------------------------

const figures: { history?: HistoryPhase[]; resume?: ResumePhase[]; dataDir?: DataDirRun[]; positioned?: PositionedRun[] } = {};
const printed: string[] = [];
for (const part of parts) {
  switch (part) {
    case 'history':
      figures.history = await measureHistory();
      printed.push(printHistory(figures.history));
      break;
    case 'resume':
      figures.resume = await measureResume();
      printed.push(printResume(figures.resume));
      break;
    case 'data-dir':
      figures.dataDir = await measureDataDir();
      printed.push(printDataDir(figures.dataDir));
      break;
    case 'positioned':
      figures.positioned = await measurePositioned();
      printed.push(printPositioned(figures.positioned));
      break;
  }
}
process.stdout.write(`chatd ${WORKERS} workers, ${THREADS} bench threads, on this machine\n\n${printed.join('\n')}`);
if (flags.json !== undefined) {
  const { history, resume: resumed, dataDir, positioned } = figures;
  const chatOf = (round: RoundResult | null): object | null =>
    round === null ? null : { latencyMs: round.latencyMs, deliveriesPerSecond: round.deliveriesPerSecond, integrity: round.integrity, serverCpuSeconds: round.serverCpuSeconds };
  writeFileSync(
    flags.json,
    `${JSON.stringify(
      {
        history: history?.map((phase) => ({ ...phase, chat: chatOf(phase.chat) })),
        resume: resumed?.map((phase) => ({ ...phase, chat: chatOf(phase.chat) })),
        dataDir: dataDir?.map((run) => ({ ...run, chat: chatOf(run.chat) })),
        positioned: positioned?.map((run) => ({ ...run, chat: chatOf(run.chat) })),
      },
      null,
      2,
    )}\n`,
  );
}
