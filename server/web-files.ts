// The web client's files (web/), read once by the primary at start (a missing file stops the
// start) and served from memory by every worker on the web port, with the headers that keep the page to itself: a Content-Security-Policy that allows
// only its own scripts, styles and WebSocket (no inline script, nothing from elsewhere), and no
// sniffing, framing or referrer. Runs in the worker threads.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the page lives in the checkout: served as it is, no build step. */
export const WEB_DIRECTORY = fileURLToPath(new URL('../web/', import.meta.url));

/**
 * SECURITY.md: every resource from this origin only, scripts from files only ('unsafe-inline'
 * nowhere), and 'self' for connect-src covers the page's own ws: and wss: (CSP Level 3).
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Headers of every answer on the web port, a refusal included. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

/** The file types the page is made of; any other file in web/ (its tsconfig.json) is not served. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** One file as served: plain data, posted to the workers in their workerData. */
export interface WebFile {
  /** `/index.html`, `/app.js`, …; `/` serves index.html. */
  readonly path: string;
  readonly body: Uint8Array;
  readonly type: string;
  readonly etag: string;
}

/** A web client chatd cannot serve (a checkout without web/): the message says what is missing. */
export class WebFilesError extends Error {
  override readonly name = 'WebFilesError';
}

/** Reads every servable file of `directory`; throws WebFilesError without an index.html. */
export function readWebFiles(directory: string = WEB_DIRECTORY): readonly WebFile[] {
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch (error) {
    throw new WebFilesError(`cannot read the web client in ${directory} (${(error as Error).message}); reinstall chatd, or leave --web-port out`);
  }
  const files: WebFile[] = [];
  for (const name of names.sort()) {
    const type = CONTENT_TYPES[extname(name)];
    if (type === undefined) continue;
    const body = readFileSync(join(directory, name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    files.push({ path: `/${name}`, body, type, etag });
  }
  if (!files.some((file) => file.path === '/index.html')) {
    throw new WebFilesError(`the web client is incomplete: no index.html in ${directory}; reinstall chatd, or leave --web-port out`);
  }
  return files;
}

export class WebFiles {
  readonly #files = new Map<string, WebFile>();

  constructor(files: readonly WebFile[]) {
    for (const file of files) this.#files.set(file.path, file);
    this.#files.set('/', this.#files.get('/index.html')!);
  }

  /** Answers a plain HTTP request: GET or HEAD of a file, else 404 or 405. */
  serve(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? '/', 'http://chatd').pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return plain(response, 405, 'only GET and HEAD are served here\n', { Allow: 'GET, HEAD' });
    }
    if (path === '/ws') return plain(response, 426, 'this is the WebSocket endpoint: connect with a WebSocket\n', { Upgrade: 'websocket' });
    const file = this.#files.get(path);
    if (file === undefined) return plain(response, 404, 'not found\n');
    // The files change only with a new chatd: revalidated each time, answered 304 when unchanged.
    const headers = { ...SECURITY_HEADERS, 'Content-Type': file.type, 'Cache-Control': 'no-cache', ETag: file.etag };
    if (request.headers['if-none-match'] === file.etag) {
      response.writeHead(304, headers).end();
      return;
    }
    response.writeHead(200, { ...headers, 'Content-Length': file.body.length });
    response.end(request.method === 'HEAD' ? undefined : file.body);
  }
}

function plain(response: ServerResponse, status: number, text: string, extra: Readonly<Record<string, string>> = {}): void {
  response.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...extra });
  response.end(text);
}
