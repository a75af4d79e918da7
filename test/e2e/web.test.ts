// The WebSocket binding on a real chatd (PROTOCOL.md §9): a WebSocket client (Node's own, as a
// browser script would use) and a TCP client in one chat, each seeing the other's login, lines,
// rename and leave in one order; every refusal with its status or close code; the keepalive; and
// the web client's page with its headers. One chatd per describe block.

import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  connectAndGreet,
  connectAs,
  connectWebSocket,
  expectQuietUntilMarker,
  lineFrom,
  silentConnectionLifetime,
  type ChatClient,
} from '../helpers/chat-client.ts';
import { useChatd } from '../helpers/use-chatd.ts';
import type { ChatdProcess } from '../helpers/start-server.ts';

const MAX_LINE = 64;

function wsUrl(server: ChatdProcess): string {
  if (server.webPort === null) throw new Error('chatd was started without --web-port');
  return `ws://127.0.0.1:${server.webPort}/ws`;
}

/** A WebSocket client greeted as connectAndGreet greets a TCP one. */
async function greetWebSocket(server: ChatdProcess, online: readonly ChatClient[] = []) {
  const { client, closed } = await connectWebSocket(wsUrl(server));
  await client.expectLines(lineFrom(client, 'login'), lineFrom(client, 'I am here'));
  for (const other of online) await other.expectLine(lineFrom(client, 'login'));
  return { client, closed };
}

/** The HTTP status a handshake got, or 101 when it became a WebSocket. */
function handshakeStatus(server: ChatdProcess, headers: Record<string, string>, path = '/ws'): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${server.webPort}${path}`, { headers });
    socket.on('open', () => {
      socket.terminate();
      resolve(101);
    });
    socket.on('unexpected-response', (_request, response) => {
      socket.terminate();
      resolve(response.statusCode ?? 0);
    });
    socket.on('error', (error) => {
      if (!/Unexpected server response|closed before/.test(error.message)) reject(error);
    });
  });
}

describe('chatd --web-port: a browser user is a client like any other', () => {
  const server = useChatd(['--web-port', '0', '--max-line', String(MAX_LINE), '--rate-limit', '0']);

  it('puts a WebSocket client and a TCP client in one chat: login, lines, rename, leave, in one order', async () => {
    const tcp = await connectAs(server().port, 'alice');
    const { client: web } = await greetWebSocket(server(), [tcp]);
    await web.send('rename|bob');
    await web.expectLine('rename ok');
    await tcp.expectLine(lineFrom(web, 'renamed to bob'));
    web.name = 'bob';
    // Lines from both sides at once: the server picks one order, and both see that same one.
    await Promise.all([tcp.send('one from tcp'), web.send('two from the web'), tcp.send('three from tcp'), web.send('four from the web')]);
    const seenByTcp = [await tcp.nextLine(), await tcp.nextLine(), await tcp.nextLine(), await tcp.nextLine()];
    await web.expectLines(...seenByTcp);
    expect([...seenByTcp].sort()).toEqual(
      [lineFrom(tcp, 'one from tcp'), lineFrom(web, 'two from the web'), lineFrom(tcp, 'three from tcp'), lineFrom(web, 'four from the web')].sort(),
    );
    expect(seenByTcp.indexOf(lineFrom(tcp, 'one from tcp'))).toBeLessThan(seenByTcp.indexOf(lineFrom(tcp, 'three from tcp')));
    expect(seenByTcp.indexOf(lineFrom(web, 'two from the web'))).toBeLessThan(seenByTcp.indexOf(lineFrom(web, 'four from the web')));
    await web.send('who');
    await web.expectLines('user list:', `${tcp.addr}:alice`, `${web.addr}:bob`);
    await web.send('/msg alice psst');
    await tcp.expectLine(`[${web.addr}]bob (private):psst`);
    await web.expectLine('msg ok');
    await expectQuietUntilMarker(tcp, [tcp, web]);
    web.end();
    await tcp.expectLine(lineFrom(web, 'login out'));
  });

  it('carries several lines in one message when they go out together, and takes a terminator or none', async () => {
    const { client: web, closed } = await greetWebSocket(server());
    await web.send('/help'); // a reply of many lines, in one message
    await web.expectLine('commands:');
    await web.waitForLine((line) => line === 'limits:');
    await web.waitForLine((line) => line === '  no limit on lines a second');
    await web.write('with crlf\r\n');
    await web.expectLine(lineFrom(web, 'with crlf'));
    await web.send('/quit');
    expect((await closed).code).toBe(1000);
    await web.expectClosed();
  });

  it('refuses a binary message with 1003 and a message over --max-line with 1009; others see the leave', async () => {
    const tcp = await connectAs(server().port, 'carol');
    for (const [send, code] of [
      [(socket: WebSocket) => socket.send(Buffer.from('hi'), { binary: true }), 1003],
      [(socket: WebSocket) => socket.send('x'.repeat(MAX_LINE + 3)), 1009],
    ] as const) {
      const socket = new WebSocket(wsUrl(server()));
      const firstMessage = new Promise<string>((resolve) => socket.once('message', (data: Buffer) => resolve(data.toString())));
      const login = await firstMessage;
      const addr = /^\[([^\]]+)\]/.exec(login)![1]!;
      await tcp.expectLine(`[${addr}]${addr}:login`);
      const closed = new Promise<number>((resolve) => socket.once('close', (closeCode: number) => resolve(closeCode)));
      send(socket);
      expect(await closed).toBe(code);
      await tcp.expectLine(`[${addr}]${addr}:login out`);
    }
    const last = await server().waitForLog((record) => record['event'] === 'kick' && record['reason'] === 'ProtocolViolation');
    expect(last['reason']).toBe('ProtocolViolation');
  });

  it("refuses a page of another origin with 403 and lets the page's own in; a path other than /ws is 404", async () => {
    const port = server().webPort!;
    expect(await handshakeStatus(server(), { Origin: 'https://evil.example' })).toBe(403);
    expect(await handshakeStatus(server(), { Origin: `http://127.0.0.1:${port}` })).toBe(101);
    expect(await handshakeStatus(server(), {})).toBe(101);
    expect(await handshakeStatus(server(), {}, '/socket')).toBe(404);
    await server().waitForLog((record) => record['event'] === 'origin-refused' && record['origin'] === 'https://evil.example');
  });

  it('closes a connection that sends nothing within the 10 s request bound (a slow loris holds no socket)', async () => {
    const lifetime = await silentConnectionLifetime(server().webPort!);
    expect(lifetime).toBeGreaterThanOrEqual(9_000);
    expect(lifetime).toBeLessThan(15_000);
  }, 20_000);

  it('serves the page with a Content-Security-Policy that allows no inline script', async () => {
    const response = await fetch(`http://127.0.0.1:${server().webPort}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    const html = await response.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i); // every script is a file
    for (const [, src] of html.matchAll(/<script[^>]*\bsrc="([^"]+)"/gi)) {
      expect((await fetch(new URL(src!, response.url))).status, src).toBe(200);
    }
  });
});

describe('chatd --web-keepalive: a WebSocket peer that answers no ping is cut', () => {
  const server = useChatd(['--web-port', '0', '--web-keepalive', '1']);

  it('keeps a peer that answers, cuts one that does not within two intervals, and says why in the log', async () => {
    const tcp = await connectAs(server().port, 'dave');
    const answering = new WebSocket(wsUrl(server()));
    const silent = new WebSocket(wsUrl(server()), { autoPong: false });
    const silentClosed = new Promise<number>((resolve) => silent.once('close', (code: number) => resolve(code)));
    await tcp.waitForLine((line) => line.endsWith(':login'));
    await tcp.waitForLine((line) => line.endsWith(':login'));
    const startedAt = Date.now();
    expect(await silentClosed).toBe(1006); // cut without a close frame
    expect(Date.now() - startedAt).toBeLessThan(3000);
    await tcp.waitForLine((line) => line.endsWith(':login out'));
    expect(answering.readyState).toBe(WebSocket.OPEN);
    await server().waitForLog((record) => record['event'] === 'kick' && record['reason'] === 'KeepaliveTimeout');
    answering.terminate();
  });
});

describe('chatd --web-port and --max-per-ip count WebSocket clients with TCP ones', () => {
  const server = useChatd(['--web-port', '0', '--max-per-ip', '2']);

  it('refuses the third client from one address, whichever transport it uses', async () => {
    const tcp = await connectAndGreet(server().port);
    const { client: web } = await greetWebSocket(server(), [tcp]);
    const { client: third, closed } = await connectWebSocket(wsUrl(server()));
    expect(await third.nextLine()).toMatch(/^error: /);
    expect((await closed).code).toBe(1000);
    await expectQuietUntilMarker(tcp, [tcp, web]);
  });
});

describe('chatd --web-port: a WebSocket client that stops reading, and the shutdown', () => {
  const server = useChatd(['--web-port', '0', '--rate-limit', '0', '--max-pending', '65536']);

  it('cuts a WebSocket client that does not read as a slow consumer; the TCP sender loses nothing', async () => {
    const alice = await connectAs(server().port, 'alice');
    const reader = new WebSocket(wsUrl(server()));
    let loginAddr = '';
    reader.once('message', (data: Buffer) => {
      loginAddr = /^\[([^\]]+)\]/.exec(data.toString())![1]!;
      reader.pause(); // reads nothing more: the kernel's buffers fill, then chatd's 64 KiB
    });
    await alice.waitForLine((line) => line.endsWith(':login'));
    const isCut = (): boolean => server().logs.some((record) => record['event'] === 'kick' && record['reason'] === 'SlowConsumer');
    const text = 'y'.repeat(1000);
    const seen: string[] = [];
    // Alice sends and reads her own echo, line by line, until the reader is cut (20 MB at most).
    // The paused reader reads nothing, its close included: the server's log says when.
    for (let sent = 0; !isCut(); sent++) {
      if (sent === 20_000) throw new Error('the reader was never cut after 20 MB');
      await alice.send(text);
      seen.push(await alice.nextLine());
    }
    await server().waitForLog((record) => record['event'] === 'kick' && record['reason'] === 'SlowConsumer');
    const loggedOut = `[${loginAddr}]${loginAddr}:login out`;
    if (!seen.includes(loggedOut)) await alice.expectLine(loggedOut);
    expect(seen.filter((line) => line !== loggedOut).every((line) => line === lineFrom(alice, text))).toBe(true);
  });

  it('tells a WebSocket client the server is shutting down, then closes with 1000', async () => {
    const { client: web, closed } = await greetWebSocket(server());
    process.kill(server().pid, 'SIGTERM');
    await web.expectLine('error: server shutting down; goodbye');
    expect((await closed).code).toBe(1000);
    expect((await server().exited).code).toBe(0);
  });
});

describe('chatd --web-port: the idle timeout and flood control hold for WebSocket clients too', () => {
  const server = useChatd(['--web-port', '0', '--idle-timeout', '2', '--rate-limit', '20', '--rate-burst', '5']);

  it('times out a silent WebSocket client with its line, then close 1000; the others see the timeout', async () => {
    const tcp = await connectAs(server().port, 'erin');
    const { client: web, closed } = await greetWebSocket(server(), [tcp]);
    // Erin keeps talking, so only the web client is silent.
    const talking = setInterval(() => void tcp.send('still here'), 500);
    try {
      await web.waitForLine((line) => line === 'error: no line from you for 2 s; disconnected (send any line to stay)', 5000);
      expect((await closed).code).toBe(1000);
      await tcp.waitForLine((line) => line === lineFrom(web, 'time out leave out'), 5000);
    } finally {
      clearInterval(talking);
    }
  });

  it('slows a WebSocket client past its rate without losing or reordering a line', async () => {
    const tcp = await connectAs(server().port, 'frank');
    const { client: web } = await greetWebSocket(server(), [tcp]);
    const lines = Array.from({ length: 30 }, (_, i) => `burst ${i}`);
    const startedAt = Date.now();
    await Promise.all(lines.map((line) => web.send(line)));
    // The warning comes among the web client's own echoes, wherever the flood control put it.
    await web.waitForLine((line) => line === 'error: slow down: at most 20 lines a second (5 at once); your lines are delayed');
    for (const line of lines) await tcp.expectLine(lineFrom(web, line));
    // 25 lines past the burst at 20 a second: a second and more, not all at once.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1000);
  });
});
