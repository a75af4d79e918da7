// HTTP under chat load (`npm run bench:http`): one chatd with --http-port, the same chat-bench
// workload run against it alone, while autocannon hammers GET /metrics, while it hammers
// POST /announce (with the token), while it sends announcements at a fixed rate, and alone
// again; prints the chat latency of each beside autocannon's figures and the clients chatd put
// out meanwhile. Prints, asserts nothing (docs/BENCHMARKS.md §5).

import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runBench, SCRIPT_DEFAULTS, type BenchOptions, type RoundResult } from './chat-bench.ts';
import { freePort } from './processes/free-port.ts';
import { spawnServer } from './servers.ts';

const { values: flags } = parseArgs({
  options: {
    clients: { type: 'string', default: '500' },
    senders: { type: 'string', default: '10' },
    rate: { type: 'string', default: '10' },
    duration: { type: 'string', default: '10' },
    workers: { type: 'string', default: String(availableParallelism()) },
    threads: { type: 'string', default: String(availableParallelism()) },
    connections: { type: 'string', default: '10' },
    'announce-rate': { type: 'string', default: '100' },
    json: { type: 'string' },
  },
});
const number = (name: keyof typeof flags): number => {
  const value = Number(flags[name]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number; got ${String(flags[name])}`);
  return value;
};
const CLIENTS = number('clients');
const SENDERS = number('senders');
const RATE = number('rate');
const DURATION_S = number('duration');
const WORKERS = number('workers');
const THREADS = number('threads');
const CONNECTIONS = number('connections');
const ANNOUNCE_RATE = number('announce-rate');
/** No `~b ` in it: the bench's clients skip it as they skip logins. */
const ANNOUNCEMENT = 'bench announcement: HTTP under chat load';

interface HttpFigures {
  readonly endpoint: string;
  readonly requestsPerSecond: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly requests: number;
  readonly non2xx: number;
  readonly errors: number;
}

interface Scenario {
  readonly name: string;
  readonly chat: RoundResult;
  readonly http: HttpFigures | null;
  /** Clients chatd put out during the scenario (chatd_kicks_total), and how many as slow consumers. */
  readonly kicks: number;
  readonly slowConsumers: number;
}

const secrets = mkdtempSync(join(tmpdir(), 'chatd-bench-http-'));
const token = randomBytes(24).toString('base64url');
const tokenFile = join(secrets, 'admin.token');
writeFileSync(tokenFile, token, { mode: 0o600 });
// spawnServer reads only the chat port from chatd's log: the HTTP port is chosen here.
const httpPort = await freePort();
const server = await spawnServer({
  kind: 'chatd',
  transport: 'tcp',
  workers: WORKERS,
  seedBinary: '',
  extraArgs: ['--http-port', String(httpPort), '--admin-token-file', tokenFile],
});
const base = `http://${server.host}:${httpPort}`;

const benchOptions: BenchOptions = {
  ...SCRIPT_DEFAULTS,
  host: server.host,
  ports: [server.port],
  workers: WORKERS,
  serverPids: [server.pid],
  clients: CLIENTS,
  senders: SENDERS,
  rate: RATE,
  duration: DURATION_S,
  ramp: 5000,
  threads: THREADS,
  connectTimeoutMs: 30_000,
};

/**
 * Runs the chat workload; with `load`, autocannon starts when the chat load starts (the bench's
 * first `loading` report) and runs for the same seconds, so the two overlap exactly.
 */
async function scenario(name: string, load: autocannon.Options | null): Promise<Scenario> {
  process.stderr.write(`${name}…\n`);
  const kicksBefore = await countKicks();
  let cannon: Promise<autocannon.Result> | null = null;
  const result = await runBench(benchOptions, {
    connecting: () => {},
    loading: () => {
      if (load !== null && cannon === null) cannon = autocannon({ ...load, duration: DURATION_S, connections: CONNECTIONS });
    },
    done: () => {},
  });
  const chat = result.headline;
  if (chat === null) throw new Error(`${name}: only ${result.connect.greeted} of ${CLIENTS} clients got in`);
  const run: autocannon.Result | null = load === null ? null : await (cannon ?? Promise.reject(new Error(`${name}: the chat load never started`)));
  const kicksAfter = await countKicks();
  const kicks = { kicks: kicksAfter.all - kicksBefore.all, slowConsumers: kicksAfter.slow - kicksBefore.slow };
  if (load === null || run === null) return { name, chat, http: null, ...kicks };
  return {
    name,
    chat,
    ...kicks,
    http: {
      endpoint: `${load.method ?? 'GET'} ${new URL(load.url).pathname}`,
      requestsPerSecond: run.requests.average,
      latencyP50Ms: run.latency.p50,
      latencyP99Ms: run.latency.p99,
      requests: run.requests.total,
      non2xx: run.non2xx,
      errors: run.errors,
    },
  };
}

/** chatd_kicks_total from a scrape: every reason, and SlowConsumer alone. */
async function countKicks(): Promise<{ all: number; slow: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let all = 0;
  let slow = 0;
  for (const match of text.matchAll(/^chatd_kicks_total\{reason="(\w+)"\} (\d+)$/gm)) {
    all += Number(match[2]);
    if (match[1] === 'SlowConsumer') slow += Number(match[2]);
  }
  return { all, slow };
}

const announce: autocannon.Options = {
  url: `${base}/announce`,
  method: 'POST',
  headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
  body: ANNOUNCEMENT,
};

const scenarios: Scenario[] = [];
try {
  scenarios.push(await scenario('chat alone', null));
  scenarios.push(await scenario('chat + GET /metrics', { url: `${base}/metrics` }));
  scenarios.push(await scenario('chat + POST /announce', announce));
  // Every announcement is a broadcast to every client: at a rate people might use, what it costs.
  scenarios.push(await scenario(`chat + POST /announce at ${ANNOUNCE_RATE}/s`, { ...announce, overallRate: ANNOUNCE_RATE }));
  // Again at the end: how far apart two runs with nothing changed are is the noise to read the others by.
  scenarios.push(await scenario('chat alone, again', null));
} finally {
  await server.stop();
  rmSync(secrets, { recursive: true, force: true });
}

const fixed = (value: number, digits = 2): string => value.toFixed(digits);
/** autocannon records whole milliseconds. */
const wholeMs = (value: number): string => (value < 1 ? '< 1' : String(Math.round(value)));
const rows = scenarios.map(({ name, chat, http, kicks, slowConsumers }) => [
  name,
  fixed(chat.latencyMs.p50),
  fixed(chat.latencyMs.p99),
  Math.round(chat.deliveriesPerSecond).toLocaleString('en-US'),
  String(chat.integrity.lost),
  `${kicks} (${slowConsumers})`,
  chat.serverCpuSeconds === null ? '—' : fixed(chat.serverCpuSeconds),
  http?.endpoint ?? '—',
  http === null ? '—' : Math.round(http.requestsPerSecond).toLocaleString('en-US'),
  http === null ? '—' : wholeMs(http.latencyP50Ms),
  http === null ? '—' : wholeMs(http.latencyP99Ms),
  http === null ? '—' : `${http.non2xx} / ${http.errors}`,
]);
const header = [
  'scenario',
  'chat p50 ms',
  'chat p99 ms',
  'deliveries/s',
  'lost',
  'kicks (slow)',
  'server cpu s',
  'HTTP endpoint',
  'HTTP req/s',
  'HTTP p50 ms',
  'HTTP p99 ms',
  'non-2xx / errors',
];
process.stdout.write(
  `chatd ${WORKERS} workers at ${server.host}:${server.port}, HTTP at ${base}\n` +
    `chat: ${CLIENTS} clients, ${SENDERS} senders × ${RATE}/s, 64 B, ${DURATION_S} s per scenario; ` +
    `autocannon: ${CONNECTIONS} connections for the same ${DURATION_S} s, as fast as they are answered unless a rate is named\n\n` +
    `| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|\n` +
    rows.map((row) => `| ${row.join(' | ')} |`).join('\n') +
    '\n',
);
if (flags.json !== undefined) {
  const json = scenarios.map(({ name, chat, http, kicks, slowConsumers }) => ({
    name,
    kicks,
    slowConsumers,
    chat: { latencyMs: chat.latencyMs, deliveriesPerSecond: chat.deliveriesPerSecond, integrity: chat.integrity, serverCpuSeconds: chat.serverCpuSeconds },
    http,
  }));
  writeFileSync(flags.json, `${JSON.stringify(json, null, 2)}\n`);
}
