// The HTTP admin endpoints (docs/OPERATIONS.md §8): GET /healthz, GET /metrics, GET /who and
// POST /announce, on --host:--http-port. Runs in the primary thread only, beside the chat room
// it reads and writes; it never touches a client socket. Off unless --http-port is given.

import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { formatAddress, type WhoEntry } from '../protocol/index.ts';
import { announcementText } from './announcement.ts';
import { ListenError } from './listen-error.ts';
import { TokenBucket } from './token-bucket.ts';
import type { Logger } from './log.ts';

/** What the endpoints read and do; the primary provides it. */
export interface AdminBackend {
  /** True from SIGINT/SIGTERM on: /healthz answers 503 and /announce refuses. */
  isStopping(): boolean;
  /** The whole scrape in the Prometheus text format. */
  metrics(): Promise<{ readonly contentType: string; readonly text: string }>;
  /** Everyone online in order of arrival. */
  who(): readonly WhoEntry[];
  /** Broadcasts a sanitized announcement; returns how many clients were online. */
  announce(text: string): number;
}

export interface AdminHttpOptions {
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  /** The bearer token POST /announce requires; null: /announce is off (403). */
  readonly adminToken: string | null;
  /** The longest announcement body (--max-line): longer is 413. */
  readonly maxBodyBytes: number;
  readonly backend: AdminBackend;
  readonly log: Logger;
}

export interface AdminHttp {
  readonly port: number;
  /** Replaces the token POST /announce requires (SIGHUP); null turns /announce off. */
  setAdminToken(token: string | null): void;
  /** Stops listening and ends every connection, idle or not. */
  close(): Promise<void>;
}

export const ENDPOINTS = ['healthz', 'metrics', 'who', 'announce'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

/** The endpoints, by path, with the methods each allows. HEAD goes wherever GET goes (Node sends no body). */
const ROUTES: ReadonlyMap<string, { readonly endpoint: Endpoint; readonly methods: readonly string[] }> = new Map([
  ['/healthz', { endpoint: 'healthz', methods: ['GET', 'HEAD'] }],
  ['/metrics', { endpoint: 'metrics', methods: ['GET', 'HEAD'] }],
  ['/who', { endpoint: 'who', methods: ['GET', 'HEAD'] }],
  ['/announce', { endpoint: 'announce', methods: ['POST'] }],
]);

export type RouteMatch =
  | { readonly kind: 'found'; readonly endpoint: Endpoint }
  | { readonly kind: 'not-found' }
  /** `allow`: the value of the Allow header (RFC 9110 §15.5.6). */
  | { readonly kind: 'method-not-allowed'; readonly allow: string };

/** Which endpoint a request is for; the query string is ignored. Pure. */
export function resolveRoute(method: string, url: string): RouteMatch {
  const query = url.indexOf('?');
  const route = ROUTES.get(query === -1 ? url : url.slice(0, query));
  if (route === undefined) return { kind: 'not-found' };
  if (!route.methods.includes(method)) return { kind: 'method-not-allowed', allow: route.methods.join(', ') };
  return { kind: 'found', endpoint: route.endpoint };
}

export type BearerCheck = 'ok' | 'missing' | 'wrong';

/**
 * Checks an Authorization header against the token (RFC 6750 §2.1; the scheme ignores case).
 * Both sides are hashed first, so timingSafeEqual compares equal lengths and the time taken
 * tells nothing about the token, its length included.
 */
export function checkBearer(header: string | undefined, tokenDigest: Buffer): BearerCheck {
  const match = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
  if (match === null) return 'missing';
  return timingSafeEqual(digest(match[1]!), tokenDigest) ? 'ok' : 'wrong';
}

export function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A slow or stalled admin client cannot hold a connection open for long. */
const REQUEST_TIMEOUT_MS = 10_000;
const HEADERS_TIMEOUT_MS = 5_000;
/** So a timeout is enforced within half a second of falling due. */
const TIMEOUT_CHECK_INTERVAL_MS = 500;

/** Listens on host:port and resolves once it does; a port it cannot have is a ListenError for --http-port. */
export async function startAdminHttp(options: AdminHttpOptions): Promise<AdminHttp> {
  const handler = new AdminHandler(options);
  const server = createServer(
    {
      requestTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: HEADERS_TIMEOUT_MS,
      // Node checks both timeouts only this often (30 s by default): a client that stopped halfway
      // through its headers was answered 408 after about 35 s, not 5 (#10 §6).
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    (request, response) => handler.handle(request, response),
  );
  try {
    // exclusive: the same rule as the chat port's probe; no second process shares this port.
    server.listen({ host: options.host, port: options.port, exclusive: true });
    await once(server, 'listening');
  } catch (error) {
    const cause = error as NodeJS.ErrnoException;
    throw new ListenError(cause.code ?? 'UNKNOWN', cause.message, '--http-port');
  }
  const address = server.address();
  if (address === null || typeof address === 'string') throw new ListenError('EINVAL', 'not a TCP address', '--http-port');
  return {
    port: address.port,
    setAdminToken: (token) => handler.setAdminToken(token),
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections would hold close() open until they time out.
      server.closeAllConnections();
      await closed;
    },
  };
}

const TEXT = 'text/plain; charset=utf-8';

/**
 * Announcements a second, after a burst. Each one goes to every client: a runaway script with the
 * token could otherwise drown the chat (bench:http measured 4,748 a second without this limit,
 * and the chat's own lines fell behind by seconds).
 */
export const ANNOUNCE_RATE_PER_SECOND = 10;
export const ANNOUNCE_BURST = 20;

class AdminHandler {
  readonly #options: AdminHttpOptions;
  #tokenDigest: Buffer | null;
  readonly #announcements = new TokenBucket(ANNOUNCE_RATE_PER_SECOND, ANNOUNCE_BURST, performance.now());

  constructor(options: AdminHttpOptions) {
    this.#options = options;
    this.#tokenDigest = options.adminToken === null ? null : digest(options.adminToken);
  }

  setAdminToken(token: string | null): void {
    this.#tokenDigest = token === null ? null : digest(token);
  }

  handle(request: IncomingMessage, response: ServerResponse): void {
    const route = resolveRoute(request.method ?? '', request.url ?? '/');
    if (route.kind === 'not-found') {
      return reply(response, 404, `no such endpoint; chatd serves ${[...ROUTES.keys()].join(', ')}\n`);
    }
    if (route.kind === 'method-not-allowed') {
      return reply(response, 405, `method ${request.method ?? ''} not allowed here; use ${route.allow}\n`, { Allow: route.allow });
    }
    this.#serve(route.endpoint, request, response).catch((error: unknown) => {
      this.#options.log.error({ err: error, endpoint: route.endpoint }, 'HTTP admin request failed');
      if (!response.headersSent) reply(response, 500, 'internal error; see the chatd log\n');
      else response.destroy();
    });
  }

  async #serve(endpoint: Endpoint, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { backend } = this.#options;
    switch (endpoint) {
      case 'healthz':
        // A load balancer stops sending new clients while the old ones are told goodbye.
        return backend.isStopping() ? reply(response, 503, 'shutting down\n') : reply(response, 200, 'ok\n');
      case 'metrics': {
        const { contentType, text } = await backend.metrics();
        return reply(response, 200, text, { 'Content-Type': contentType });
      }
      case 'who':
        return reply(response, 200, `${JSON.stringify(backend.who())}\n`, { 'Content-Type': 'application/json; charset=utf-8' });
      case 'announce':
        return this.#announce(request, response);
    }
  }

  /** The checks in order: turned on, authorized, still running, size, content. */
  async #announce(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { backend, log, maxBodyBytes } = this.#options;
    const from = formatAddress(request.socket.remoteAddress ?? '?', request.socket.remotePort ?? 0);
    if (this.#tokenDigest === null) {
      return reply(
        response,
        403,
        'POST /announce is off: no admin token is set. Start chatd with --admin-token-file PATH ' +
          '(a file that holds the token) or the CHATD_ADMIN_TOKEN environment variable to turn it on.\n',
        { Connection: 'close' },
      );
    }
    const check = checkBearer(request.headers.authorization, this.#tokenDigest);
    if (check !== 'ok') {
      log.warn({ event: 'admin-denied', from, reason: check === 'missing' ? 'no bearer token' : 'wrong token' }, 'POST /announce refused');
      const body =
        check === 'missing'
          ? 'POST /announce needs the admin token: send the header Authorization: Bearer TOKEN\n'
          : 'wrong admin token: send Authorization: Bearer TOKEN with the token chatd was started with\n';
      const challenge = check === 'missing' ? 'Bearer realm="chatd"' : 'Bearer realm="chatd", error="invalid_token"';
      return reply(response, 401, body, { 'WWW-Authenticate': challenge, Connection: 'close' });
    }
    if (backend.isStopping()) return reply(response, 503, 'shutting down; nothing can be announced now\n', { Connection: 'close' });
    const now = performance.now();
    if (!this.#announcements.take(now)) {
      const retryAfter = Math.max(1, Math.ceil(this.#announcements.waitMs(now) / 1000));
      return reply(
        response,
        429,
        `too many announcements: at most ${ANNOUNCE_RATE_PER_SECOND} a second (${ANNOUNCE_BURST} at once); retry after ${retryAfter} s\n`,
        { 'Retry-After': String(retryAfter), Connection: 'close' },
      );
    }
    const body = await readBody(request, maxBodyBytes);
    if (body === 'aborted') return; // nobody is left to answer, and nothing was announced
    if (body === 'too-large') {
      return reply(response, 413, `the announcement is over ${maxBodyBytes} bytes (--max-line); send a shorter one\n`, { Connection: 'close' });
    }
    const text = announcementText(body);
    if (text === null) return reply(response, 400, 'the announcement is empty: send its text as the request body\n');
    const online = backend.announce(text);
    log.info({ event: 'announce', from, chars: text.length, online }, 'announcement sent');
    return reply(response, 200, `announced to ${online} ${online === 1 ? 'client' : 'clients'}\n`);
  }
}

/**
 * The request body; 'too-large' as soon as it is over `limit` bytes (a Content-Length over it is
 * refused before a byte is read, a chunked body is cut off where it passes the limit); 'aborted'
 * when the client went away before the end of it.
 */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'aborted'> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.resolve('too-large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        request.off('data', onData);
        request.pause();
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    };
    request.on('data', onData);
    request.once('end', () => resolve(Buffer.concat(chunks)));
    // After 'end' this changes nothing: a promise settles once.
    request.once('close', () => resolve('aborted'));
  });
}

function reply(response: ServerResponse, status: number, body: string, headers: OutgoingHttpHeaders = {}): void {
  response.writeHead(status, {
    'Content-Type': TEXT,
    'Content-Length': Buffer.byteLength(body),
    // Every answer is about this moment: no cache may keep one.
    'Cache-Control': 'no-store',
    ...headers,
  });
  response.end(body);
}
