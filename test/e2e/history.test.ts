// History and resume on a real chatd (PROTOCOL.md §10), over TCP and WebSocket: /history with
// its header and times, positions after /token, a drop resumed with exactly the lines missed,
// the name held meanwhile, the WebSocket handshake resume, and every refusal as the spec words
// it. One chatd per describe block.

import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connectAndGreet, connectAs, connectWebSocket, lineFrom, type ChatClient } from '../helpers/chat-client.ts';
import type { ChatdProcess } from '../helpers/start-server.ts';
import { useChatd } from '../helpers/use-chatd.ts';

const TIME = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';
const TOKEN = '[A-Za-z0-9_-]{22}';

/** The `history @N TIME LINE` form of a live line, as a pattern. */
const historyLine = (position: number, live: string): RegExp => new RegExp(`^history @${position} ${TIME} ${escape(live)}$`);
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The same at any position. */
const historyAt = (live: string): RegExp => new RegExp(`^history @\\d+ ${TIME} ${escape(live)}$`);

/** Asks for a token and returns it with the position the reply gives. */
async function tokenOf(client: ChatClient): Promise<{ token: string; position: number }> {
  await client.send('/token');
  const line = await client.waitForLine((text) => text.startsWith('token '));
  const match = new RegExp(`^token (${TOKEN}) @(\\d+)$`).exec(line);
  expect(match, line).not.toBeNull();
  return { token: match![1]!, position: Number(match![2]) };
}

function wsUrl(server: ChatdProcess, query = ''): string {
  return `ws://127.0.0.1:${server.webPort}/ws${query}`;
}

describe('history', () => {
  const server = useChatd(['--web-port', '0', '--history-size', '5', '--rate-limit', '0']);

  it('answers /history with a header and the last entries, oldest first, each with its position and time', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAndGreet(server().port, [alice]);
    for (const text of ['one', 'two', 'three']) {
      await alice.send(text);
      await bob.expectLine(lineFrom(alice, text));
    }
    await bob.send('/history 2');
    const header = await bob.nextLine();
    expect(header).toBe('history: 2 entries');
    const lines = [await bob.nextLine(), await bob.nextLine()];
    const [first, second] = lines.map((line) => /^history @(\d+) /.exec(line)![1]).map(Number);
    expect(second).toBe(first! + 1);
    expect(lines[0]).toMatch(historyLine(first!, lineFrom(alice, 'two')));
    expect(lines[1]).toMatch(historyLine(second!, lineFrom(alice, 'three')));
    // The time is when it was said: within this test's run.
    const said = Date.parse(/ (\S+Z) /.exec(lines[1]!)![1]!);
    expect(Math.abs(Date.now() - said)).toBeLessThan(60_000);
  });

  it('keeps at most --history-size entries, and says `1 entry` for one', async () => {
    const alice = await connectAs(server().port, 'alice');
    for (let line = 0; line < 7; line++) await alice.send(`line ${line}`);
    await alice.waitForLine((line) => line === lineFrom(alice, 'line 6'));
    await alice.send('/history 50');
    expect(await alice.waitForLine((line) => line.startsWith('history:'))).toBe('history: 5 entries');
    await alice.send('/history 1');
    expect(await alice.waitForLine((line) => line.startsWith('history:'))).toBe('history: 1 entry');
    expect(await alice.nextLine()).toMatch(historyAt(lineFrom(alice, 'line 6')));
  });

  it('refuses /history with anything but a positive whole number', async () => {
    const alice = await connectAndGreet(server().port);
    for (const line of ['/history 0', '/history -3', '/history lots', '/history 2 3']) {
      await alice.send(line);
      await alice.expectLine('error: usage: /history [N]');
    }
  });

  it('answers /history over a WebSocket as over TCP, and keeps private messages out of it', async () => {
    const alice = await connectAs(server().port, 'alice');
    const { client: web } = await connectWebSocket(wsUrl(server()));
    await web.expectLines(lineFrom(web, 'login'), lineFrom(web, 'I am here'));
    await alice.expectLine(lineFrom(web, 'login'));
    await web.send('rename|webby');
    await web.expectLine('rename ok');
    await alice.expectLine(lineFrom(web, 'renamed to webby'));
    await alice.send('/msg webby psst');
    await alice.expectLine('msg ok');
    await web.expectLine(`[${alice.addr}]alice (private):psst`);
    await web.send('/history 1');
    await web.expectLine('history: 1 entry');
    expect(await web.nextLine()).toMatch(new RegExp(`^history @\\d+ ${TIME} \\[${escape(web.addr)}\\]${escape(web.addr)}:renamed to webby$`));
  });
});

describe('history on join', () => {
  const server = useChatd(['--history-on-join', '2']);

  it('sends a newcomer the last entries after its greeting and message of the day, the header even when there are none', async () => {
    const alice = await connectAndGreet(server().port);
    await alice.waitForLine((line) => line.startsWith('history: '));
    await alice.send('before you came');
    await alice.expectLine(lineFrom(alice, 'before you came'));
    const bob = await connectAndGreet(server().port, [alice]);
    await bob.expectLine('history: 1 entry');
    expect(await bob.nextLine()).toMatch(historyAt(lineFrom(alice, 'before you came')));
  });
});

describe('resume', () => {
  const server = useChatd(['--web-port', '0', '--http-port', '0']);

  let serial = 0;

  /**
   * Alice with a token, having read up to `position`, whose connection then drops. Each test's
   * alice has a name of her own: a dropped one's stays held for the window, past the test.
   */
  async function aliceDrops(bob: ChatClient): Promise<{ alice: ChatClient; token: string; position: number }> {
    const alice = await connectAs(server().port, `alice${++serial}`, [bob]);
    const { token, position } = await tokenOf(alice);
    alice.destroy();
    await bob.expectLine(lineFrom(alice, 'login out'));
    return { alice, token, position };
  }

  it('puts positions on the live history lines of a client with a token, and on nobody else\'s', async () => {
    const bob = await connectAs(server().port, 'bob');
    const alice = await connectAs(server().port, 'alice', [bob]);
    const { position } = await tokenOf(alice);
    await bob.send('hi');
    await alice.expectLine(`@${position + 1} ${lineFrom(bob, 'hi')}`);
    await bob.expectLine(lineFrom(bob, 'hi'));
    // A login is no history entry: it comes as it always has.
    const carol = await connectAndGreet(server().port, [bob]);
    await alice.expectLine(lineFrom(carol, 'login'));
  });

  it('resumes a dropped client over TCP: the lines it missed, its name back as a login, a new token', async () => {
    const bob = await connectAs(server().port, 'bob');
    const { alice, token, position } = await aliceDrops(bob);
    const name = alice.name;
    await bob.send('are you there?');
    await bob.expectLine(lineFrom(bob, 'are you there?'));
    const again = await connectAndGreet(server().port, [bob]);
    await again.send(`/resume ${token} ${position}`);
    await again.expectLine('resume: 1 entry you missed');
    expect(await again.nextLine()).toMatch(historyLine(position + 1, lineFrom(bob, 'are you there?')));
    await again.expectLine(`[${again.addr}]${name}:login`);
    await bob.expectLine(`[${again.addr}]${name}:login`);
    const resumed = await again.nextLine();
    expect(resumed).toMatch(new RegExp(`^resumed ${TOKEN} @${position + 1}$`));
    expect(resumed).not.toContain(token);
    // From now on its lines carry positions, and it is alice to everyone.
    again.name = name;
    await bob.send('welcome back');
    await again.expectLine(`@${position + 2} ${lineFrom(bob, 'welcome back')}`);
    await again.send('who');
    await again.expectLines('user list:', `${bob.addr}:bob`, `${again.addr}:${name}`);
    expect(alice.isClosed).toBe(true);
  });

  it('holds the name of a dropped session: nobody else may take it meanwhile', async () => {
    const bob = await connectAs(server().port, 'bob');
    const { alice } = await aliceDrops(bob);
    await bob.send(`rename|${alice.name.toUpperCase()}`);
    await bob.expectLine(`error: the name ${alice.name.toUpperCase()} is taken; pick another`);
  });

  it('refuses a used token, and a position ahead of the chat, in the words of PROTOCOL.md §10.4', async () => {
    const bob = await connectAs(server().port, 'bob');
    const { alice, token, position } = await aliceDrops(bob);
    const again = await connectAndGreet(server().port, [bob]);
    await again.send(`/resume ${token} ${position + 1000}`);
    await again.expectLine(`error: cannot resume at @${position + 1000}: the chat is only at @${position}; send the position of the last line you received`);
    await again.send(`/resume ${token} @${position}`);
    await again.expectLines('resume: 0 entries you missed', `[${again.addr}]${alice.name}:login`);
    await bob.expectLine(`[${again.addr}]${alice.name}:login`);
    expect(await again.nextLine()).toMatch(new RegExp(`^resumed ${TOKEN} @${position}$`));
    const other = await connectAndGreet(server().port, [bob, again]);
    await other.send(`/resume ${token} ${position}`);
    await other.expectLine(
      'error: cannot resume: that token is unknown, used, or older than the resume window (120 s); lines said since you left may be missed: /history shows the last ones',
    );
    await other.send('/resume onlyone');
    await other.expectLine('error: usage: /resume TOKEN POSITION');
  });

  it('resumes a WebSocket in its handshake: the missed lines first, then its login under its name, greeting and token', async () => {
    const bob = await connectAs(server().port, 'bob');
    const { alice, token, position } = await aliceDrops(bob);
    await bob.send('one');
    await bob.send('two');
    await bob.expectLines(lineFrom(bob, 'one'), lineFrom(bob, 'two'));
    const { client: web } = await connectWebSocket(wsUrl(server(), `?resume=${token}&position=${position}`));
    await web.expectLine('resume: 2 entries you missed');
    expect(await web.nextLine()).toMatch(historyLine(position + 1, lineFrom(bob, 'one')));
    expect(await web.nextLine()).toMatch(historyLine(position + 2, lineFrom(bob, 'two')));
    await web.expectLines(`[${web.addr}]${alice.name}:login`, `[${web.addr}]${alice.name}:I am here`);
    expect(await web.nextLine()).toMatch(new RegExp(`^resumed ${TOKEN} @${position + 2}$`));
    // Bob never saw the address's login: only alice's.
    await bob.expectLine(`[${web.addr}]${alice.name}:login`);
  });

  it.each(['?resume=abc', '?position=3', '?resume=&position=3', '?resume=abc&position=-1', '?resume=abc&position=1e3'])(
    'refuses the malformed resume query %s with 400 before any chat state exists',
    async (query) => {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const socket = new WebSocket(wsUrl(server(), query));
        socket.on('open', () => reject(new Error(`${query} became a WebSocket`)));
        socket.on('unexpected-response', (_request, response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        });
        socket.on('error', () => {});
      });
      expect(answer).toEqual({ status: 400, body: 'to resume, connect to /ws?resume=TOKEN&position=N\n' });
    },
  );

  it('lets a WebSocket with a refused token in as a newcomer, told why after its greeting', async () => {
    const { client: web } = await connectWebSocket(wsUrl(server(), '?resume=AAAAAAAAAAAAAAAAAAAAAA&position=0'));
    await web.expectLines(lineFrom(web, 'login'), lineFrom(web, 'I am here'));
    await web.waitForLine((line) => line.startsWith('error: cannot resume: that token is unknown'));
  });
});

describe('resume metrics', () => {
  const server = useChatd(['--http-port', '0', '--history-size', '2']);

  it('counts resumes by outcome, the missed entries no longer kept, and the history in /metrics', async () => {
    const http = (await server().waitForLog((record) => record['event'] === 'http-listening'))['port'] as number;
    const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
    const sample = (text: string, series: string): number => Number(new RegExp(`^${escape(series)} (\\d+)$`, 'm').exec(text)?.[1]);
    const bob = await connectAs(server().port, 'bob');
    const alice = await connectAs(server().port, 'alice', [bob]);
    const { token, position } = await tokenOf(alice);
    alice.destroy();
    await bob.expectLine(lineFrom(alice, 'login out'));
    for (const text of ['one', 'two', 'three']) await bob.send(text);
    await bob.expectLines(lineFrom(bob, 'one'), lineFrom(bob, 'two'), lineFrom(bob, 'three'));
    const again = await connectAndGreet(server().port, [bob]);
    await again.send(`/resume ${token} ${position}`);
    await again.expectLine('resume: 2 entries you missed, and 1 before them that are no longer kept');
    await again.send(`/resume ${token} ${position}`);
    await again.waitForLine((line) => line.startsWith('error: cannot resume'));
    const metrics = await scrape();
    expect(sample(metrics, 'chatd_resumes_total{outcome="resumed"}')).toBe(1);
    expect(sample(metrics, 'chatd_resumes_total{outcome="refused"}')).toBe(1);
    expect(sample(metrics, 'chatd_resume_entries_lost_total')).toBe(1);
    expect(sample(metrics, 'chatd_history_entries')).toBe(2);
    expect(sample(metrics, 'chatd_history_position')).toBe(position + 3);
  });
});

describe('resume off', () => {
  const server = useChatd(['--resume-window', '0']);

  it('answers /token and /resume with CHAT_ERR_RESUME_OFF', async () => {
    const alice = await connectAndGreet(server().port);
    await alice.send('/token');
    await alice.expectLine('error: this server does not hold sessions (--resume-window 0)');
    await alice.send('/resume AAAAAAAAAAAAAAAAAAAAAA 0');
    await alice.expectLine('error: this server does not hold sessions (--resume-window 0)');
  });
});
