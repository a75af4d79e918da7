// The HTTP admin endpoints on a real chatd (OPERATIONS.md §8, PROTOCOL.md §5.7): /healthz,
// /metrics with figures that move, /who against a client's `who`, /announce with and without the
// admin token, the size limit, 404/405, shutdown, and an --http-port already taken.

import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect as connectTcp, createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, connectAndGreet, connectAs, expectQuietUntilMarker, lineFrom } from '../helpers/chat-client.ts';
import { runChatdToExit, startChatd, stopAllChatd, type ChatdProcess } from '../helpers/start-server.ts';
import { useChatd } from '../helpers/use-chatd.ts';

const TOKEN = 'correct-horse-battery-staple';
const secrets = mkdtempSync(join(tmpdir(), 'chatd-http-test-'));
const TOKEN_FILE = join(secrets, 'admin.token');
// The file as an editor leaves it, with a newline: chatd trims it.
writeFileSync(TOKEN_FILE, `${TOKEN}\n`, { mode: 0o600 });
afterAll(() => rmSync(secrets, { recursive: true, force: true }));
afterAll(stopAllChatd);

interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

interface HttpOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent with a Content-Length; `chunks` sends a chunked body instead. */
  readonly body?: string | Buffer;
  readonly chunks?: readonly (string | Buffer)[];
}

/** One request on a connection of its own (no pooling), with a deadline. */
function http(port: number, path: string, options: HttpOptions = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: false, timeout: 5000 },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.once('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    request.once('timeout', () => request.destroy(new Error(`${options.method ?? 'GET'} ${path}: no answer within 5 s`)));
    request.once('error', reject);
    if (options.chunks !== undefined) for (const chunk of options.chunks) request.write(chunk);
    request.end(options.body);
  });
}

async function httpPortOf(server: ChatdProcess): Promise<number> {
  const record = await server.waitForLog((line) => line['event'] === 'http-listening');
  const port = record['port'];
  if (typeof port !== 'number') throw new Error(`http-listening without a port: ${JSON.stringify(record)}`);
  return port;
}

/** Every sample of a scrape, by series (`name{labels}`). */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** The sum of a metric over every series of it. */
function total(samples: Map<string, number>, name: string): number {
  let sum = 0;
  for (const [series, value] of samples) if (series === name || series.startsWith(`${name}{`)) sum += value;
  return sum;
}

async function scrape(port: number): Promise<Map<string, number>> {
  const answer = await http(port, '/metrics');
  expect(answer.status).toBe(200);
  return parseMetrics(answer.body);
}

const announce = (port: number, body: string | Buffer, token: string | null = TOKEN): Promise<HttpAnswer> =>
  http(port, '/announce', { method: 'POST', body, headers: token === null ? {} : { Authorization: `Bearer ${token}` } });

describe('chatd --http-port with an admin token file', () => {
  const server = useChatd(['--http-port', '0', '--admin-token-file', TOKEN_FILE, '--workers', '2', '--max-line', '64']);

  it('answers GET /healthz with 200 ok while it runs', async () => {
    const answer = await http(await httpPortOf(server()), '/healthz');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(answer.body).toBe('ok\n');
  });

  it('serves every metric in the Prometheus text format', async () => {
    const answer = await http(await httpPortOf(server()), '/metrics');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    for (const [name, type] of [
      ['chatd_clients_online', 'gauge'],
      ['chatd_clients_connected', 'gauge'],
      ['chatd_lines_in_total', 'counter'],
      ['chatd_deliveries_total', 'counter'],
      ['chatd_bytes_in_total', 'counter'],
      ['chatd_bytes_out_total', 'counter'],
      ['chatd_kicks_total', 'counter'],
      ['chatd_slow_consumers_total', 'counter'],
      ['chatd_fanout_batch_seconds', 'histogram'],
      ['chatd_event_loop_lag_seconds', 'gauge'],
      ['chatd_scrape_workers_missing', 'gauge'],
      ['chatd_build_info', 'gauge'],
      ['process_resident_memory_bytes', 'gauge'],
      ['process_cpu_user_seconds_total', 'counter'],
      ['process_open_fds', 'gauge'],
      ['nodejs_eventloop_lag_p99_seconds', 'gauge'],
    ]) {
      expect(answer.body, name).toContain(`\n# TYPE ${name} ${type}\n`);
    }
    const samples = parseMetrics(answer.body);
    for (const thread of ['primary', 'worker-0', 'worker-1']) {
      expect(samples.get(`chatd_event_loop_lag_seconds{thread="${thread}",quantile="0.99"}`), thread).toBeGreaterThanOrEqual(0);
    }
    expect(samples.get('chatd_kicks_total{reason="SlowConsumer"}')).toBe(0);
    expect(samples.get('chatd_scrape_workers_missing')).toBe(0);
    expect(samples.get('process_resident_memory_bytes')).toBeGreaterThan(10_000_000);
    expect(samples.get('process_open_fds')).toBeGreaterThan(2);
    const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    expect(samples.get(`chatd_build_info{version="${version}",node="${process.version}"}`)).toBe(1);
  });

  it('moves the figures as clients connect and talk: clients per worker, lines, deliveries, bytes, fan-out batches', async () => {
    const port = await httpPortOf(server());
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    const before = await scrape(port);
    expect(before.get('chatd_clients_online')).toBe(2);
    // The primary logs which worker owns each client: the per-worker gauges must agree with it.
    const onWorker = [0, 0];
    for (const client of [alice, bob]) {
      const connected = await server().waitForLog((line) => line['event'] === 'connect' && line['addr'] === client.addr);
      onWorker[connected['worker'] as number]!++;
    }
    expect(before.get('chatd_clients_connected{worker="0",transport="tcp"}')).toBe(onWorker[0]);
    expect(before.get('chatd_clients_connected{worker="1",transport="tcp"}')).toBe(onWorker[1]);
    expect(before.get('chatd_clients_connected{worker="0",transport="ws"}')).toBe(0);
    expect(total(before, 'chatd_connections_total')).toBe(2);

    await alice.send('one');
    await alice.send('two');
    for (const client of [alice, bob]) await client.expectLines(lineFrom(alice, 'one'), lineFrom(alice, 'two'));
    const after = await scrape(port);
    const grew = (name: string): number => total(after, name) - total(before, name);
    expect(grew('chatd_lines_in_total')).toBe(2);
    expect(grew('chatd_bytes_in_total')).toBe('one\ntwo\n'.length);
    expect(grew('chatd_deliveries_total')).toBe(2 * 2); // two lines, two recipients
    expect(grew('chatd_bytes_out_total')).toBe(2 * Buffer.byteLength(`${lineFrom(alice, 'one')}\r\n${lineFrom(alice, 'two')}\r\n`));
    expect(grew('chatd_fanout_batch_seconds_count')).toBeGreaterThanOrEqual(1);
  });

  it('answers GET /who with the same people, names and order as a client\'s who', async () => {
    const port = await httpPortOf(server());
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAndGreet(server().port, [alice]);
    const carol = await connectAs(server().port, 'carol', [alice, bob]);
    await carol.send('who');
    await carol.expectLines('user list:', `${alice.addr}:alice`, `${bob.addr}:${bob.addr}`, `${carol.addr}:carol`);
    const answer = await http(port, '/who');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(answer.body)).toEqual([
      { addr: alice.addr, name: 'alice' },
      { addr: bob.addr, name: bob.addr },
      { addr: carol.addr, name: 'carol' },
    ]);
  });

  it('announces POST /announce with the right token to everyone as one *** line', async () => {
    const port = await httpPortOf(server());
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    const answer = await announce(port, 'maintenance at 17:00');
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('announced to 2 clients\n');
    for (const client of [alice, bob]) {
      await client.expectLine('*** maintenance at 17:00');
      expect(client.rawLines.at(-1)).toBe('*** maintenance at 17:00\r\n');
    }
    await expectQuietUntilMarker(alice, [alice, bob]);
  });

  it('removes control characters and escape sequences from an announcement, CR and LF included', async () => {
    const port = await httpPortOf(server());
    const alice = await connectAs(server().port, 'alice');
    const answer = await announce(port, 'server \x1b[31mrestart\x1b[0m\x07 at\r\n 5\x00\n');
    expect(answer.status).toBe(200);
    await alice.expectLine('*** server restart at 5');
  });

  it('refuses POST /announce without the token (401) and with a wrong one (401), and announces nothing', async () => {
    const port = await httpPortOf(server());
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    const missing = await announce(port, 'hello', null);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="chatd"');
    expect(missing.body).toBe('POST /announce needs the admin token: send the header Authorization: Bearer TOKEN\n');
    const wrong = await announce(port, 'hello', `${TOKEN}x`);
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="chatd", error="invalid_token"');
    expect(wrong.body).toBe('wrong admin token: send Authorization: Bearer TOKEN with the token chatd was started with\n');
    const basic = await http(port, '/announce', { method: 'POST', body: 'hello', headers: { Authorization: `Basic ${TOKEN}` } });
    expect(basic.status).toBe(401);
    await expectQuietUntilMarker(alice, [alice, bob]);
  });

  it('refuses a body over --max-line with 413, whether it declares its length or is chunked', async () => {
    const port = await httpPortOf(server());
    const alice = await connectAs(server().port, 'alice');
    const declared = await announce(port, 'x'.repeat(65));
    expect(declared.status).toBe(413);
    expect(declared.body).toBe('the announcement is over 64 bytes (--max-line); send a shorter one\n');
    const chunked = await http(port, '/announce', {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}` },
      chunks: ['y'.repeat(40), 'y'.repeat(40)],
    });
    expect(chunked.status).toBe(413);
    await expectQuietUntilMarker(alice, [alice]);
    const exactly = await announce(port, 'z'.repeat(64));
    expect(exactly.status).toBe(200);
    await alice.expectLine(`*** ${'z'.repeat(64)}`);
  });

  it('announces nothing when the client goes away in the middle of the body', async () => {
    const port = await httpPortOf(server());
    const alice = await connectAs(server().port, 'alice');
    const mallory = await connect(port); // a raw TCP client on the HTTP port
    await mallory.write(`POST /announce HTTP/1.1\r\nHost: chatd\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 40\r\n\r\nhalf an announ`);
    mallory.destroy();
    await expectQuietUntilMarker(alice, [alice]);
    expect((await http(port, '/healthz')).status).toBe(200);
  });

  it('refuses an announcement that is empty once sanitized with 400', async () => {
    const port = await httpPortOf(server());
    const alice = await connectAs(server().port, 'alice');
    for (const body of ['', ' \t\r\n', '\x1b[2J']) {
      const answer = await announce(port, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body).toBe('the announcement is empty: send its text as the request body\n');
    }
    await expectQuietUntilMarker(alice, [alice]);
  });

  it('answers 408 to a client that stops halfway through its headers, within about 5 s', async () => {
    const socket = connectTcp(await httpPortOf(server()), '127.0.0.1');
    await once(socket, 'connect');
    const started = performance.now();
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    await once(socket, 'close');
    const seconds = (performance.now() - started) / 1000;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(seconds).toBeGreaterThan(4.5);
    expect(seconds).toBeLessThan(7);
  }, 15_000);

  it('answers an unknown path with 404 and a wrong method with 405 and Allow', async () => {
    const port = await httpPortOf(server());
    const unknown = await http(port, '/admin');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toBe('no such endpoint; chatd serves /healthz, /metrics, /who, /announce\n');
    const postHealth = await http(port, '/healthz', { method: 'POST', body: 'x' });
    expect(postHealth.status).toBe(405);
    expect(postHealth.headers['allow']).toBe('GET, HEAD');
    const getAnnounce = await http(port, '/announce');
    expect(getAnnounce.status).toBe(405);
    expect(getAnnounce.headers['allow']).toBe('POST');
    expect(getAnnounce.body).toBe('method GET not allowed here; use POST\n');
  });
});

describe('chatd --http-port under a burst of announcements', () => {
  const server = useChatd(['--http-port', '0', '--admin-token-file', TOKEN_FILE]);

  it('announces the first 20 at once, then refuses with 429 and Retry-After, and the chat goes on', async () => {
    const port = await httpPortOf(server());
    const alice = await connectAs(server().port, 'alice');
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => announce(port, `notice ${i}`)));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThanOrEqual(20);
    const refused = answers.filter((answer) => answer.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.headers['retry-after']).toBe('1');
    expect(refused[0]!.body).toBe('too many announcements: at most 10 a second (20 at once); retry after 1 s\n');
    const announced = statuses.filter((status) => status === 200).length;
    for (let i = 0; i < announced; i++) await alice.waitForLine((line) => line.startsWith('*** notice '));
    await alice.send('still chatting');
    await alice.waitForLine((line) => line === lineFrom(alice, 'still chatting'));
  });
});

describe('chatd --http-port without an admin token', () => {
  const server = useChatd(['--http-port', '0']);

  it('refuses POST /announce with 403 and says how to turn it on', async () => {
    const port = await httpPortOf(server());
    const alice = await connectAs(server().port, 'alice');
    const answer = await announce(port, 'hello');
    expect(answer.status).toBe(403);
    expect(answer.body).toBe(
      'POST /announce is off: no admin token is set. Start chatd with --admin-token-file PATH ' +
        '(a file that holds the token) or the CHATD_ADMIN_TOKEN environment variable to turn it on.\n',
    );
    await expectQuietUntilMarker(alice, [alice]);
  });
});

describe('chatd HTTP endpoints, each on a chatd of its own', () => {
  it('takes the token from CHATD_ADMIN_TOKEN', async () => {
    const server = await startChatd(['--http-port', '0'], { CHATD_ADMIN_TOKEN: 'from-the-environment' });
    const port = await httpPortOf(server);
    const alice = await connectAs(server.port, 'alice');
    expect((await announce(port, 'hi', TOKEN)).status).toBe(401);
    expect((await announce(port, 'hi', 'from-the-environment')).status).toBe(200);
    await alice.expectLine('*** hi');
    alice.destroy();
    await server.stop();
  });

  it('counts a kick by its close reason', async () => {
    const server = await startChatd(['--http-port', '0', '--max-per-ip', '1']);
    const port = await httpPortOf(server);
    const alice = await connectAs(server.port, 'alice');
    const mallory = await connect(server.port);
    await mallory.expectLine('error: too many connections from your address (1); close one and try again');
    await mallory.expectClosed();
    const samples = await scrape(port);
    expect(samples.get('chatd_kicks_total{reason="TooManyFromAddress"}')).toBe(1);
    expect(samples.get('chatd_kicks_total{reason="ServerFull"}')).toBe(0);
    expect(samples.get('chatd_clients_online')).toBe(1);
    alice.destroy();
    await server.stop();
  });

  it('answers /healthz with 503 while shutting down, then closes the HTTP port too', async () => {
    const server = await startChatd(['--http-port', '0']);
    const port = await httpPortOf(server);
    const alice = await connectAs(server.port, 'alice');
    alice.pause(); // never reads the goodbye, so the shutdown waits out its 2 s grace for her
    const exited = server.stop('SIGTERM');
    await server.waitForLog((line) => line['event'] === 'shutdown');
    const answer = await http(port, '/healthz');
    expect(answer.status).toBe(503);
    expect(answer.body).toBe('shutting down\n');
    expect(await exited).toEqual({ code: 0, signal: null });
    await expect(http(port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    alice.destroy();
  });

  it('refuses an --http-port already in use with one line, as for the chat port', async () => {
    const squatter = createServer();
    squatter.listen({ host: '127.0.0.1', port: 0 });
    await once(squatter, 'listening');
    const taken = (squatter.address() as { port: number }).port;
    try {
      const run = await runChatdToExit(['--port', '0', '--http-port', String(taken)]);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(`chatd: 127.0.0.1:${taken} is already in use (another chatd?); stop that server or choose another --http-port\n`);
    } finally {
      squatter.close();
    }
  });
});
