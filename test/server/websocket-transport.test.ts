// The web listener and the WebSocket transport on real loopback sockets, with ws clients: what
// the transport reports, the frame shared by every recipient, and each refusal with its status
// or close code (PROTOCOL.md §9). No chat here: the accepted transports are the test's.

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CloseReason } from '../../room/close-reason.ts';
import { Keepalive } from '../../server/keepalive.ts';
import type { TransportHandler } from '../../server/transport.ts';
import { WebFiles } from '../../server/web-files.ts';
import { createWebListener } from '../../server/web-listener.ts';
import { CloseCode, PING_BURST, TextFrames, WebSocketTransport, type WebSocketShared } from '../../server/websocket-transport.ts';
import { SYSTEM_CLOCK } from '../../server/worker-clock.ts';

const MAX_LINE = 64;
const servers: Server[] = [];
const clients: WebSocket[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.terminate();
  for (const server of servers.splice(0)) server.close();
});

interface Accepted {
  readonly transport: WebSocketTransport;
  readonly seen: string[];
  readonly closed: Promise<void>;
}

async function listen(origins: readonly string[] = []) {
  const shared: WebSocketShared = { frames: new TextFrames(), keepalive: new Keepalive(SYSTEM_CLOCK, 60_000), clock: SYSTEM_CLOCK };
  const waiting: ((accepted: Accepted) => void)[] = [];
  const refusedOrigins: string[] = [];
  const server = createWebListener({
    files: new WebFiles([{ path: '/index.html', body: Buffer.from('<!doctype html>'), type: 'text/html; charset=utf-8', etag: '"x"' }]),
    tls: null,
    origins,
    maxLineBytes: MAX_LINE,
    shared,
    accept: (transport) => {
      const seen: string[] = [];
      let onClosed: () => void = () => {};
      const closed = new Promise<void>((resolve) => {
        onClosed = resolve;
      });
      const handler: TransportHandler = {
        onData: (chunk) => seen.push(`data ${JSON.stringify(chunk.toString())}`),
        onEnd: () => seen.push('end'),
        onError: (reason) => seen.push(`error ${reason}`),
        onClose: () => {
          seen.push('close');
          onClosed();
        },
      };
      transport.start(handler);
      waiting.shift()?.({ transport, seen, closed });
    },
    onOriginRefused: (origin) => refusedOrigins.push(origin),
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const connect = async (headers: Record<string, string> = {}, path = '/ws'): Promise<{ client: WebSocket; accepted: Accepted }> => {
    const accepted = new Promise<Accepted>((resolve) => waiting.push(resolve));
    const client = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers, autoPong: true });
    clients.push(client);
    await once(client, 'open');
    return { client, accepted: await accepted };
  };
  return { port, shared, connect, refusedOrigins };
}

/** The next close of `client`: its code. */
async function closeCode(client: WebSocket): Promise<number> {
  const [code] = (await once(client, 'close')) as [number, Buffer];
  return code;
}

/** What a refused handshake answered: ws's client reports the HTTP status. */
async function handshakeStatus(port: number, headers: Record<string, string>, path = '/ws'): Promise<number> {
  const client = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers });
  client.on('error', () => {}); // the refusal itself, reported below
  clients.push(client);
  const [, response] = (await once(client, 'unexpected-response')) as [unknown, { statusCode: number }];
  return response.statusCode;
}

describe('WebSocketTransport', () => {
  it('hands on each text message as one line, a terminator added when it has none', async () => {
    const { connect } = await listen();
    const { client, accepted } = await connect();
    client.send('hello');
    client.send('with crlf\r\n');
    client.send('');
    await expect.poll(() => accepted.seen.length).toBe(5);
    expect(accepted.seen).toEqual(['data "hello"', 'data "\\r\\n"', 'data "with crlf\\r\\n"', 'data ""', 'data "\\r\\n"']);
    expect(accepted.transport.kind).toBe('ws');
    expect(accepted.transport.remoteAddress).toBe('127.0.0.1');
  });

  it('frames a payload once however many clients it is written to, and every one reads it whole', async () => {
    const { connect, shared } = await listen();
    const pairs = await Promise.all([connect(), connect(), connect()]);
    const payload = Buffer.from('[127.0.0.1:1]ann:hi\r\n[127.0.0.1:1]ann:again\r\n');
    const received = pairs.map(({ client }) => once(client, 'message'));
    for (const { accepted } of pairs) accepted.transport.write(payload);
    for (const [data, isBinary] of (await Promise.all(received)) as [Buffer, boolean][]) {
      expect(isBinary).toBe(false);
      expect(data.toString()).toBe(payload.toString());
    }
    expect(shared.frames.framed).toBe(1);
  });

  it('holds messages while paused and hands them on at resume, in order', async () => {
    const { connect } = await listen();
    const { client, accepted } = await connect();
    accepted.transport.pause();
    client.send('one');
    client.send('two');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(accepted.seen).toEqual([]);
    accepted.transport.resume();
    await expect.poll(() => accepted.seen).toEqual(['data "one"', 'data "\\r\\n"', 'data "two"', 'data "\\r\\n"']);
  });

  it('ends with a close frame (1000) behind the last line written', async () => {
    const { connect } = await listen();
    const { client, accepted } = await connect();
    const lines: string[] = [];
    client.on('message', (data: Buffer) => lines.push(data.toString()));
    accepted.transport.write(Buffer.from('bye\r\n'));
    accepted.transport.end();
    expect(accepted.transport.isWritable).toBe(false);
    expect(await closeCode(client)).toBe(CloseCode.Normal);
    expect(lines).toEqual(['bye\r\n']);
    await accepted.closed;
    expect(accepted.seen).toEqual(['close']);
  });

  it('refuses a binary message with 1003', async () => {
    const { connect } = await listen();
    const { client, accepted } = await connect();
    client.send(Buffer.from('binary'), { binary: true });
    expect(await closeCode(client)).toBe(CloseCode.UnsupportedData);
    await accepted.closed;
    expect(accepted.seen).toEqual([`error ${CloseReason.ProtocolViolation}`, 'close']);
  });

  it('refuses a message over --max-line with 1009; one at the limit with its CRLF passes', async () => {
    const { connect } = await listen();
    const { client, accepted } = await connect();
    client.send(`${'x'.repeat(MAX_LINE)}\r\n`);
    await expect.poll(() => accepted.seen.length).toBe(1);
    client.send('x'.repeat(MAX_LINE + 3));
    expect(await closeCode(client)).toBe(CloseCode.MessageTooBig);
    await accepted.closed;
    expect(accepted.seen.slice(1)).toEqual([`error ${CloseReason.ProtocolViolation}`, 'close']);
  });

  it('answers pings within the budget and refuses a ping flood with 1008', async () => {
    const { connect } = await listen();
    const { client, accepted } = await connect();
    let pongs = 0;
    client.on('pong', () => pongs++);
    for (let i = 0; i < PING_BURST; i++) client.ping();
    await expect.poll(() => pongs).toBe(PING_BURST);
    client.ping();
    client.ping();
    expect(await closeCode(client)).toBe(CloseCode.PolicyViolation);
    await accepted.closed;
    expect(accepted.seen).toEqual([`error ${CloseReason.ProtocolViolation}`, 'close']);
  });
});

describe('the web listener', () => {
  it("lets the page's own origin, a listed one and a client without Origin in; refuses another site with 403", async () => {
    const { port, connect, refusedOrigins } = await listen(['https://app.example.com']);
    await connect({ Origin: `http://127.0.0.1:${port}` });
    await connect({ Origin: 'https://app.example.com' });
    await connect();
    expect(await handshakeStatus(port, { Origin: 'https://evil.example' })).toBe(403);
    expect(refusedOrigins).toEqual(['https://evil.example']);
  });

  it('answers 404 to a WebSocket on any path but /ws, and serves the page with its CSP', async () => {
    const { port } = await listen();
    expect(await handshakeStatus(port, {}, '/chat')).toBe(404);
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await page.text()).toBe('<!doctype html>');
    expect((await fetch(`http://127.0.0.1:${port}/ws`)).status).toBe(426);
    expect((await fetch(`http://127.0.0.1:${port}/../package.json`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`http://127.0.0.1:${port}/`, { headers: { 'If-None-Match': '"x"' } })).status).toBe(304);
  });
});
